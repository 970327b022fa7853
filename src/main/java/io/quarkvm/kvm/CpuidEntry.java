package io.quarkvm.kvm;

/** One struct kvm_cpuid_entry2: the registers CPUID returns for (function, index). */
public record CpuidEntry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {

    /** KVM_CPUID_FLAG_SIGNIFCANT_INDEX (sic, asm/kvm.h): the entry applies only to its sub-leaf {@link #index}. */
    public static final int FLAG_SIGNIFICANT_INDEX = 1;

    public CpuidEntry withRegisters(int newEax, int newEbx, int newEcx, int newEdx) {
        return new CpuidEntry(function, index, flags, newEax, newEbx, newEcx, newEdx);
    }

    public CpuidEntry withEbx(int newEbx) {
        return withRegisters(eax, newEbx, ecx, edx);
    }

    @Override
    public String toString() {
        return String.format("cpuid(0x%x.%d flags %d) = eax 0x%08x ebx 0x%08x ecx 0x%08x edx 0x%08x",
                function, index, flags, eax, ebx, ecx, edx);
    }
}
