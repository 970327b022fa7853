package io.quarkvm.domain;

/** What a node observes of a VM. */
public enum VmPhase {
    STOPPED, STARTING, RUNNING, PAUSED, STOPPING, CRASHED,
    /** Being handed over by a migration, while its source node still owns it (the VM is leaving that node). */
    MIGRATING_OUT,
    /** Being handed over by a migration, once ownership has moved to its target node (the VM is arriving there). */
    MIGRATING_IN;

    /**
     * Between source and target, the machine leaving and the one arriving are the migration's: a node's reconciler
     * takes no step for such a VM, so it neither stops the copy that is arriving nor cold-boots (or resumes) the one
     * that is leaving, and a client's lifecycle request waits until the handover has ended.
     */
    public boolean isHandover() {
        return this == MIGRATING_OUT || this == MIGRATING_IN;
    }
}
