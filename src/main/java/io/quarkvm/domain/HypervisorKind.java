package io.quarkvm.domain;

/** What runs a node's guests: hardware virtualization, the software emulator, or nothing (the node says why). */
public enum HypervisorKind {
    /** The kernel's KVM through /dev/kvm. */
    KVM,
    /** The Unicorn CPU emulator (Debian package libunicorn2): every instruction in software, same guest-visible identity. */
    EMULATED,
    /** Neither could be opened: the node runs no VM. */
    NONE
}
