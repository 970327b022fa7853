package io.quarkvm.domain;

/** What a node observes of a VM. */
public enum VmPhase {
    STOPPED, STARTING, RUNNING, PAUSED, STOPPING, CRASHED,
    /**
     * Being handed over by a migration, while its source node still owns it; the target's commit makes it RUNNING
     * there (docs/MIGRATION.md).
     */
    MIGRATING_OUT;

    /**
     * Between source and target, the machine leaving and the one arriving are the migration's: a node's reconciler
     * takes no step for such a VM, so it neither stops the copy that is arriving nor cold-boots (or resumes) the one
     * that is leaving, and a client's lifecycle request waits until the handover has ended.
     */
    public boolean isHandover() {
        return this == MIGRATING_OUT;
    }
}
