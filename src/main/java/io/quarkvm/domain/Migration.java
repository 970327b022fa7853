package io.quarkvm.domain;

import java.time.Instant;
import java.util.UUID;

/**
 * A live migration as GET /api/v1/migrations/{id} shows it and a {@code migration} event carries it.
 *
 * @param dirtyPagesLastRound pages the guest dirtied during the last pre-copy round (null before the first round)
 * @param dirtyRateMiBs       the rate the guest dirtied memory at during the last round, in MiB/s
 * @param converged           whether what was left to copy fitted the downtime limit when the VM was paused (false:
 *                            the round limit, quarkvm.migration.max-rounds, stopped pre-copy; null: not paused yet)
 * @param downtimeMs          how long the VM was paused, as the source measured it on its own clock: from its pause
 *                            request until the target's answer, which comes after the target resumed it (so never
 *                            less than the guest's downtime, whatever the clocks)
 * @param totalMs             from the request until the migration ended, as the source measured it
 * @param error               why it failed or was cancelled
 * @param pausedAt            when the source asked the VM to pause (the source's clock; null until recorded)
 * @param resumedAt           when the VM ran again on the target (the target's clock): resumedAt - pausedAt is the
 *                            guest's downtime where the two clocks agree (one host, or well-synchronised nodes)
 */
public record Migration(UUID id, UUID vmId, String sourceNode, String targetNode, MigrationPhase phase,
                        int downtimeLimitMs, int rounds, long bytesSent, Long dirtyPagesLastRound, Double dirtyRateMiBs,
                        Boolean converged, Long downtimeMs, Long totalMs, String error, Instant startedAt, Instant endedAt,
                        Instant pausedAt, Instant resumedAt) {
}
