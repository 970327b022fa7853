package io.quarkvm.vmm;

import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.kvm.HypervisorVcpu;
import io.quarkvm.kvm.KvmFpu;
import io.quarkvm.kvm.KvmRegs;
import io.quarkvm.kvm.KvmSregs;
import io.quarkvm.kvm.MsrEntry;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What a migration carries of one vCPU: the persisted identity it belongs to, its registers (KVM_GET_REGS), special
 * registers with EFER, APIC base and pending interrupts (KVM_GET_SREGS), x87/SSE registers and MXCSR (KVM_GET_FPU),
 * the MSRs of {@link #MIGRATED_MSRS} the source could read (KVM_GET_MSRS), and its MP state (KVM_GET_MP_STATE). Capture and apply run on the vCPU's own
 * thread ({@link VirtualMachine#onVcpuThread}).
 *
 * <p>Not carried, as {@link HypervisorVcpu} does not expose them: the XSAVE area beyond SSE (AVX upper halves,
 * KVM_GET_XSAVE), XCR0 (KVM_GET_XCRS), the in-kernel LAPIC
 * (KVM_GET_LAPIC; this VMM creates no in-kernel irqchip) and pending events (KVM_GET_VCPU_EVENTS).
 */
public record VcpuState(VcpuIdentity identity, KvmRegs regs, KvmSregs sregs, KvmFpu fpu, List<MsrEntry> msrs,
                        int mpState) {

    /**
     * The architectural MSRs a 64-bit guest's kernel sets and KVM keeps per vCPU (EFER travels in the sregs):
     * IA32_TSC, IA32_SYSENTER_CS/ESP/EIP, IA32_MISC_ENABLE, IA32_PAT, STAR, LSTAR, CSTAR, SFMASK, FS.base, GS.base,
     * KernelGSbase, TSC_AUX (Intel SDM vol. 4, table 2-2).
     */
    static final int[] MIGRATED_MSRS = {0x10, 0x174, 0x175, 0x176, 0x1A0, 0x277, 0xC0000081, 0xC0000082,
            0xC0000083, 0xC0000084, 0xC0000100, 0xC0000101, 0xC0000102, 0xC0000103};

    public VcpuState {
        msrs = List.copyOf(msrs);
    }

    /** Reads the state of {@code vcpu}, which runs {@code identity}; on the vCPU's thread, outside the guest. */
    static VcpuState capture(VcpuIdentity identity, HypervisorVcpu vcpu) {
        return new VcpuState(identity, vcpu.getRegs(), vcpu.getSregs(), vcpu.getFpu(), readableMsrs(vcpu),
                vcpu.getMpState());
    }

    /** KVM_GET_MSRS stops at the first MSR it cannot read: ask again past it, so that one gap loses only that MSR. */
    private static List<MsrEntry> readableMsrs(HypervisorVcpu vcpu) {
        List<MsrEntry> read = new ArrayList<>();
        int next = 0;
        while (next < MIGRATED_MSRS.length) {
            List<MsrEntry> got = vcpu.getMsrs(Arrays.copyOfRange(MIGRATED_MSRS, next, MIGRATED_MSRS.length));
            read.addAll(got);
            next += got.size() + 1; // the one after those read is not readable here
        }
        return read;
    }

    /**
     * Gives {@code vcpu} this state: sregs first (paging mode and segments), then registers, FPU, MSRs, MP state.
     *
     * @throws IllegalStateException the vCPU is not this state's (APIC ID), or refused an MSR the source had
     */
    void applyTo(HypervisorVcpu vcpu) {
        if (vcpu.apicId() != identity.apicId()) {
            throw new IllegalStateException("the state of " + identity + " cannot go to the vCPU with APIC ID "
                    + vcpu.apicId());
        }
        vcpu.setSregs(sregs);
        vcpu.setRegs(regs);
        vcpu.setFpu(fpu);
        int accepted = vcpu.setMsrs(msrs);
        if (accepted != msrs.size()) {
            throw new IllegalStateException(String.format("vCPU %s refused MSR 0x%x, which its source had",
                    identity, msrs.get(accepted).index()));
        }
        vcpu.setMpState(mpState);
    }
}
