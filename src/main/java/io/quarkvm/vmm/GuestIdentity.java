package io.quarkvm.vmm;

/**
 * What the probe on one vCPU read itself.
 *
 * @param apicIdLeaf1   CPUID 0x1 EBX[31:24] (the low 8 bits of the APIC ID)
 * @param x2ApicIdLeafB CPUID 0xB EDX
 * @param vpIndex       HV_X64_MSR_VP_INDEX, {@link #NO_VP_INDEX} when the guest found no Hyper-V to ask
 * @param hypervFound   CPUID advertised "Microsoft Hv" with AccessVpIndex
 * @param wrmsr         what the probe's write of the VP index MSR did
 */
public record GuestIdentity(int cpuIndex, int apicIdLeaf1, int x2ApicIdLeafB, long vpIndex, boolean hypervFound,
                            WrmsrOutcome wrmsr) {

    public static final long NO_VP_INDEX = -1;

    public boolean wrmsrFaulted() {
        return wrmsr == WrmsrOutcome.FAULTED;
    }
}
