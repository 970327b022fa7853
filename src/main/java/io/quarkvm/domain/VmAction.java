package io.quarkvm.domain;

/** What a client may ask of a VM's life; each names the desired state it leads to. */
public enum VmAction {
    START(DesiredState.RUNNING),
    STOP(DesiredState.STOPPED),
    PAUSE(DesiredState.PAUSED),
    RESUME(DesiredState.RUNNING);

    private final DesiredState target;

    VmAction(DesiredState target) {
        this.target = target;
    }

    public DesiredState target() {
        return target;
    }
}
