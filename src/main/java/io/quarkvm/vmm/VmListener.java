package io.quarkvm.vmm;

/**
 * What a running VM tells its owner. Called on the VM's own threads (a vCPU's, or the one that stops it): return
 * quickly and do not call back into the VM's pause/stop from here.
 */
public interface VmListener {

    /** A vCPU's probe has stored what it sees and tried the VP index WRMSR; {@code observed} is final for this boot. */
    default void identityReported(GuestIdentity observed) {
    }

    /** A re-check by the probe on {@code cpuIndex} differed from its first values. */
    default void violationReported(int cpuIndex, ProbeRecord record) {
    }

    /** The guest crashed (triple fault, failed entry, internal error...); the VM is being stopped. */
    default void crashed(String reason) {
    }

    /** Every vCPU thread has ended and every native resource of the VM is released. */
    default void stopped() {
    }

    VmListener NONE = new VmListener() {
    };
}
