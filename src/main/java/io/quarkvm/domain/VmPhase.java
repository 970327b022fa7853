package io.quarkvm.domain;

/** What a node observes of a VM. */
public enum VmPhase {
    STOPPED, STARTING, RUNNING, PAUSED, STOPPING, CRASHED
}
