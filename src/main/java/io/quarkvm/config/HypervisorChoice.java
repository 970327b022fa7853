package io.quarkvm.config;

/** {@code quarkvm.node.hypervisor}: which backend a node runs its guests on. */
public enum HypervisorChoice {
    /** KVM when /dev/kvm opens, else the software emulator when libunicorn.so.2 loads, else none. */
    AUTO,
    /** Only KVM: a node whose /dev/kvm does not open runs no VM (and says why). */
    KVM,
    /** Only the software emulator, also where KVM exists (to test it, or to compare the two). */
    EMULATED
}
