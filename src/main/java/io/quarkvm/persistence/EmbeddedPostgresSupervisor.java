package io.quarkvm.persistence;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.quarkvm.config.QuarkvmConfig;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Keeps this process's embedded PostgreSQL running: a server that died (killed, crashed) is started again on the same
 * data and port, with longer and longer pauses between failed attempts. After {@code quarkvm.embedded-db.restart-attempts}
 * failures in a row the service cannot heal by itself, which liveness reports; it keeps trying all the same. At
 * shutdown it stops the server last, once every other shutdown observer (VMs being stopped among them) is done.
 */
@ApplicationScoped
public class EmbeddedPostgresSupervisor {

    private static final Logger LOG = Logger.getLogger(EmbeddedPostgresSupervisor.class);
    private static final Duration CHECK_INTERVAL = Duration.ofMillis(500);
    private static final Duration FIRST_PAUSE = Duration.ofSeconds(1);
    private static final Duration LONGEST_PAUSE = Duration.ofSeconds(10);

    private final int restartAttempts;
    private ScheduledExecutorService watchdog;
    private volatile int failedRestarts;
    private long nextAttemptNanos;

    EmbeddedPostgresSupervisor(QuarkvmConfig config) {
        this.restartAttempts = config.embeddedDb().restartAttempts();
    }

    void watch(@Observes @Priority(1) StartupEvent event) {
        EmbeddedPostgres.ownedByThisProcess().ifPresent(server -> {
            watchdog = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "embedded-postgres-watchdog"));
            watchdog.scheduleWithFixedDelay(() -> keepRunning(server), CHECK_INTERVAL.toMillis(),
                    CHECK_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
        });
    }

    /** A restart under way finishes first ({@link EmbeddedPostgres#close()} waits for it), then the server stops. */
    void stopEmbeddedServer(@Observes @Priority(Integer.MAX_VALUE) ShutdownEvent event) {
        if (watchdog != null) {
            watchdog.shutdownNow();
        }
        EmbeddedPostgres.ownedByThisProcess().ifPresent(EmbeddedPostgres::close);
    }

    private void keepRunning(EmbeddedPostgres server) {
        if (server.isRunning() || System.nanoTime() < nextAttemptNanos) {
            return;
        }
        try {
            server.restart();
            failedRestarts = 0;
        } catch (RuntimeException e) {
            failedRestarts++;
            Duration pause = pauseAfter(failedRestarts);
            nextAttemptNanos = System.nanoTime() + pause.toNanos();
            LOG.errorf("could not start the embedded PostgreSQL again (attempt %d, next in %d s): %s", failedRestarts,
                    pause.toSeconds(), e.getMessage());
        }
    }

    private static Duration pauseAfter(int failures) {
        Duration pause = FIRST_PAUSE.multipliedBy(1L << Math.min(failures - 1, 16));
        return pause.compareTo(LONGEST_PAUSE) > 0 ? LONGEST_PAUSE : pause;
    }

    /** Why the embedded server is not running now, if it is not (the details are in the log). */
    public Optional<String> outage() {
        return EmbeddedPostgres.ownedByThisProcess().filter(server -> !server.isRunning())
                .map(server -> failedRestarts == 0 ? "stopped; being started again"
                        : "stopped; " + failedRestarts + " attempts in a row to start it again failed");
    }

    /** Present once the server could not be started again {@code restart-attempts} times in a row. */
    public Optional<String> givenUp() {
        return failedRestarts >= restartAttempts ? outage() : Optional.empty();
    }
}
