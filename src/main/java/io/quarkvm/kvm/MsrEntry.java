package io.quarkvm.kvm;

/** One struct kvm_msr_entry: an MSR number and its 64-bit value. */
public record MsrEntry(int index, long data) {
}
