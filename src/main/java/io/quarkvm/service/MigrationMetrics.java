package io.quarkvm.service;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.Startup;
import io.quarkvm.domain.MigrationPhase;
import jakarta.enterprise.context.ApplicationScoped;

import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.OptionalLong;

/**
 * The Prometheus metrics of live migration, on the node that records each fact. {@link MigrationRecords} feeds them
 * as it commits: an outcome where the transition that ended the migration won (so each migration is counted once
 * in the whole cluster), the bytes as each round is recorded, the times where they are recorded.
 */
@ApplicationScoped
@Startup // the counters are on /q/metrics, at 0, before the first migration
public class MigrationMetrics {

    private static final String OUTCOME = "outcome";

    private final MeterRegistry registry;
    private final Counter bytesSent;
    private final Map<MigrationPhase, Counter> outcomes = new EnumMap<>(MigrationPhase.class);

    MigrationMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.bytesSent = Counter.builder("quarkvm.migration.bytes.sent")
                .description("Bytes of guest memory and vCPU state sent to migration targets").register(registry);
        for (MigrationPhase phase : MigrationPhase.values()) {
            if (phase.isFinished()) {
                outcomes.put(phase, Counter.builder("quarkvm.migration.outcomes").tag("phase", phase.name())
                        .description("Live migrations ended, by the phase they ended in").register(registry));
            }
        }
    }

    /** A migration ended in {@code outcome} (COMPLETED, FAILED or CANCELLED). */
    public void ended(MigrationPhase outcome) {
        if (!outcome.isFinished()) {
            throw new IllegalArgumentException(outcome + " is not an outcome");
        }
        outcomes.get(outcome).increment();
    }

    public void sent(long bytes) {
        if (bytes > 0) {
            bytesSent.increment(bytes);
        }
    }

    /** How long the VM was paused (when it was) and the whole migration took, tagged with how it ended. */
    public void timed(MigrationPhase outcome, OptionalLong downtimeMs, long totalMs) {
        downtimeMs.ifPresent(ms -> timer("quarkvm.migration.downtime",
                "From the source pausing the VM until the target resumed it", outcome).record(Duration.ofMillis(ms)));
        timer("quarkvm.migration.total", "From the migration request until it ended", outcome)
                .record(Duration.ofMillis(totalMs));
    }

    private Timer timer(String name, String description, MigrationPhase outcome) {
        return Timer.builder(name).description(description).tag(OUTCOME, outcome.name())
                .publishPercentiles(0.5, 0.9, 0.99).register(registry);
    }
}
