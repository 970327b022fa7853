package io.quarkvm.it;

import java.time.Duration;
import java.time.Instant;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/** Waits for what a service does by itself, failing with what was awaited when it does not come. */
final class Await {

    private static final Duration POLL = Duration.ofMillis(50);

    private Await() {
    }

    static void until(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
        Instant deadline = Instant.now().plus(timeout);
        while (!condition.getAsBoolean()) {
            assertThat(Instant.now()).as("waiting for %s", what).isBefore(deadline);
            Thread.sleep(POLL.toMillis());
        }
    }
}
