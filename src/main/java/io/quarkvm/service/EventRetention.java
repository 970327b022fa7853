package io.quarkvm.service;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.quarkvm.config.QuarkvmConfig;
import io.quarkvm.persistence.EventLog;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;

import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Keeps the event log bounded: every {@code quarkvm.events.prune-interval} it drops the events older than
 * {@code keep-for} and those beyond the newest {@code keep-at-most}. Every node prunes; doing it twice is harmless.
 */
@ApplicationScoped
public class EventRetention {

    private static final Logger LOG = Logger.getLogger(EventRetention.class);

    private final EventLog log;
    private final QuarkvmConfig.Events bounds;
    private ScheduledExecutorService pruner;

    EventRetention(EventLog log, QuarkvmConfig config) {
        this.log = log;
        this.bounds = config.events();
    }

    void start(@Observes StartupEvent event) {
        pruner = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "event-retention"));
        long interval = bounds.pruneInterval().toMillis();
        pruner.scheduleWithFixedDelay(this::pruneQuietly, interval, interval, TimeUnit.MILLISECONDS);
    }

    void stop(@Observes ShutdownEvent event) {
        if (pruner != null) {
            pruner.shutdownNow();
        }
    }

    /** Prunes to the configured bounds now; returns the highest id pruned so far. */
    public long prune() {
        return log.prune(Instant.now().minus(bounds.keepFor()), bounds.keepAtMost());
    }

    private void pruneQuietly() {
        try {
            LOG.debugf("event log pruned through id %d", prune());
        } catch (RuntimeException e) {
            LOG.warnf("could not prune the event log (next try in %s): %s", bounds.pruneInterval(), e.getMessage());
        }
    }
}
