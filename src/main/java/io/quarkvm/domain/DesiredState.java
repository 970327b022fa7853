package io.quarkvm.domain;

/** What the API asked a VM to be; a node's reconciler drives the observed {@link VmPhase} towards it. */
public enum DesiredState {
    RUNNING, PAUSED, STOPPED
}
