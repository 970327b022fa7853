package io.quarkvm.domain;

import java.util.EnumSet;
import java.util.Set;

/** Where a live migration is (docs/MIGRATION.md); the database's {@code migration.phase}. */
public enum MigrationPhase {
    /** Recorded; the source node has not yet begun to send. */
    SETUP,
    /** The source sends memory while the VM runs on it, in rounds, each re-sending what the guest dirtied. */
    PRECOPY,
    /** The source has paused the VM and sends what is left and every vCPU's state: the handover has begun. */
    STOP_AND_COPY,
    /** The target committed the handover: the VM runs there. */
    COMPLETED,
    /** Given up; the VM runs on the source (or, if the source itself went down, is restarted by its reconciler). */
    FAILED,
    /** Cancelled by a client before the handover began; the VM runs on the source. */
    CANCELLED;

    /** The phases of a migration still under way; at most one per VM (the partial unique index of V6). */
    public static final Set<MigrationPhase> UNFINISHED = EnumSet.of(SETUP, PRECOPY, STOP_AND_COPY);

    /** The phases a client may cancel from: once the source pauses the VM the handover is the nodes' to finish. */
    public static final Set<MigrationPhase> CANCELLABLE = EnumSet.of(SETUP, PRECOPY);

    public boolean isFinished() {
        return !UNFINISHED.contains(this);
    }
}
