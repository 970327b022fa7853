package io.quarkvm.node;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

class RestartDelayTest {

    @Test
    void doublesFromFiveSecondsUpToFiveMinutes() {
        assertThat(VmReconciler.restartDelay(1)).isEqualTo(Duration.ofSeconds(5));
        assertThat(VmReconciler.restartDelay(2)).isEqualTo(Duration.ofSeconds(10));
        assertThat(VmReconciler.restartDelay(3)).isEqualTo(Duration.ofSeconds(20));
        assertThat(VmReconciler.restartDelay(6)).isEqualTo(Duration.ofSeconds(160));
        assertThat(VmReconciler.restartDelay(7)).isEqualTo(Duration.ofMinutes(5));
        assertThat(VmReconciler.restartDelay(1000)).isEqualTo(Duration.ofMinutes(5));
    }
}
