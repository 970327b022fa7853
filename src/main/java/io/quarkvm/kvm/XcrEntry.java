package io.quarkvm.kvm;

/** One struct kvm_xcr: an extended control register's number and its value. */
public record XcrEntry(int index, long value) {

    /** XCR0 (XFEATURE_ENABLED_MASK): which XSAVE components the guest has enabled, in XSTATE_BV numbering. */
    public static final int XCR0 = 0;
}
