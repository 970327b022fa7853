package io.quarkvm.node;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;

import static org.assertj.core.api.Assertions.assertThat;

/** The memory a node offers by default: MemTotal of /proc/meminfo. */
class HostProbeTest {

    @Test
    void memTotalIsReadInKibibytesAndGivenInWholeMebibytes() {
        assertThat(HostProbe.memTotalMib(List.of("MemTotal:       16303764 kB", "MemFree:         1000000 kB")))
                .isEqualTo(OptionalInt.of(15921));
        assertThat(HostProbe.memTotalMib(List.of("MemFree:  1 kB", "MemTotal: 2048 kB"))).isEqualTo(OptionalInt.of(2));
    }

    @Test
    void aMeminfoWithoutAReadableMemTotalGivesNothing() {
        assertThat(HostProbe.memTotalMib(List.of("MemFree: 1000 kB"))).isEmpty();
        assertThat(HostProbe.memTotalMib(List.of("MemTotal: lots kB"))).isEmpty();
        assertThat(HostProbe.memTotalMib(List.of("MemTotal: 2048 MB"))).isEmpty();
        assertThat(HostProbe.memTotalMib(List.of())).isEmpty();
    }

    @Test
    void thisHostsMeminfoHasOne() throws IOException {
        OptionalInt total = HostProbe.memTotalMib(Files.readAllLines(Path.of("/proc/meminfo")));
        assertThat(total).isPresent();
        assertThat(total.getAsInt()).isPositive();
    }
}
