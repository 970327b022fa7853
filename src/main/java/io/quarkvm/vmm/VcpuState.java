package io.quarkvm.vmm;

import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.kvm.HypervisorVcpu;
import io.quarkvm.kvm.KvmException;
import io.quarkvm.kvm.KvmFpu;
import io.quarkvm.kvm.KvmRegs;
import io.quarkvm.kvm.KvmSregs;
import io.quarkvm.kvm.KvmVcpuEvents;
import io.quarkvm.kvm.KvmXsave;
import io.quarkvm.kvm.MsrEntry;
import io.quarkvm.kvm.XcrEntry;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * What a migration carries of one vCPU: the persisted identity it belongs to, its registers (KVM_GET_REGS), special
 * registers with EFER, APIC base and pending external interrupts (KVM_GET_SREGS), x87/SSE registers (KVM_GET_FPU),
 * the XSAVE area with MXCSR and the AVX and later components (KVM_GET_XSAVE2), XCR0 (KVM_GET_XCRS), the exception,
 * interrupt, NMI and SMI on their way in and the interrupt shadow (KVM_GET_VCPU_EVENTS), the MSRs of
 * {@link #MIGRATED_MSRS} the source could read (KVM_GET_MSRS), the MP state (KVM_GET_MP_STATE) and the rate of the
 * guest's TSC (KVM_GET_TSC_KHZ). Capture and apply run on the vCPU's own thread ({@link VirtualMachine#onVcpuThread}).
 *
 * <p>The parts a hypervisor may not have are optional: empty when the source had none to give (the emulated backend
 * has no XCR0). A target that cannot take a part the source carried refuses it, and the restore fails rather than
 * run the guest without it.
 *
 * <p>Not carried: the local APIC (KVM_GET_LAPIC). This VMM creates no in-kernel irqchip (no KVM_CREATE_IRQCHIP), so
 * KVM keeps no APIC state for a vCPU (KVM_GET_LAPIC fails with EINVAL) beyond the APIC base in the sregs, and the
 * guest has no APIC to lose. Nor the debug registers (KVM_GET_DEBUGREGS) or nested state, which no guest here uses.
 *
 * @param xsave  the whole XSAVE area; empty when the source had no XSAVE (KVM without KVM_CAP_XSAVE)
 * @param xcrs   XCR0 and any further XCR; empty when the source had none (the emulated backend's CPU has no XSAVE)
 * @param events empty when the source could not say (KVM without KVM_CAP_VCPU_EVENTS)
 * @param tscKhz the guest's TSC rate; empty when the source has none (KVM without KVM_CAP_GET_TSC_KHZ); on the
 *               emulated backend the host's, the only rate it can run the guest's TSC at
 */
public record VcpuState(VcpuIdentity identity, KvmRegs regs, KvmSregs sregs, KvmFpu fpu, Optional<KvmXsave> xsave,
                        Optional<List<XcrEntry>> xcrs, Optional<KvmVcpuEvents> events, List<MsrEntry> msrs,
                        int mpState, OptionalInt tscKhz) {

    /**
     * The architectural MSRs a 64-bit guest's kernel sets and KVM keeps per vCPU (EFER travels in the sregs):
     * IA32_TSC, IA32_SYSENTER_CS/ESP/EIP, IA32_MISC_ENABLE, IA32_PAT, STAR, LSTAR, CSTAR, SFMASK, FS.base, GS.base,
     * KernelGSbase, TSC_AUX (Intel SDM vol. 4, table 2-2).
     */
    static final int[] MIGRATED_MSRS = {0x10, 0x174, 0x175, 0x176, 0x1A0, 0x277, 0xC0000081, 0xC0000082,
            0xC0000083, 0xC0000084, 0xC0000100, 0xC0000101, 0xC0000102, 0xC0000103};

    public VcpuState {
        xcrs = xcrs.map(List::copyOf);
        msrs = List.copyOf(msrs);
    }

    /**
     * Reads the state of {@code vcpu}, which runs {@code identity}; on the vCPU's thread, outside the guest. In the
     * order QEMU's kvm_arch_get_registers reads it: events and MP state first (with an in-kernel APIC, reading
     * the MP state can change CS and RIP), then registers, FPU and XSAVE, XCRs, sregs, MSRs.
     */
    static VcpuState capture(VcpuIdentity identity, HypervisorVcpu vcpu) {
        Optional<KvmVcpuEvents> events = vcpu.getVcpuEvents();
        int mpState = vcpu.getMpState();
        KvmRegs regs = vcpu.getRegs();
        KvmFpu fpu = vcpu.getFpu();
        Optional<KvmXsave> xsave = vcpu.getXsave();
        Optional<List<XcrEntry>> xcrs = vcpu.getXcrs();
        KvmSregs sregs = vcpu.getSregs();
        List<MsrEntry> msrs = readableMsrs(vcpu);
        return new VcpuState(identity, regs, sregs, fpu, xsave, xcrs, events, msrs, mpState, vcpu.getTscKhz());
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
     * Gives {@code vcpu} this state in the order of QEMU's kvm_arch_put_registers: sregs first (paging mode,
     * segments, EFER), the TSC rate, registers, FPU then the XSAVE area (the same x87/SSE state and MXCSR, which
     * KVM_SET_FPU ignores, and the later components), XCRs, MSRs (IA32_TSC after the rate it counts at), events
     * after the registers they belong to, MP state last.
     *
     * @throws IllegalStateException         the vCPU is not this state's (APIC ID), refused an MSR the source had,
     *                                       or cannot run the guest's TSC at the source's rate
     * @throws UnsupportedOperationException the vCPU's hypervisor cannot hold a part the source carried
     * @throws io.quarkvm.kvm.KvmException   KVM refused a part (an XSAVE component or XCR0 value this host lacks)
     */
    void applyTo(HypervisorVcpu vcpu) {
        if (vcpu.apicId() != identity.apicId()) {
            throw new IllegalStateException("the state of " + identity + " cannot go to the vCPU with APIC ID "
                    + vcpu.apicId());
        }
        vcpu.setSregs(sregs);
        tscKhz.ifPresent(khz -> keepTscRate(vcpu, khz));
        vcpu.setRegs(regs);
        vcpu.setFpu(fpu);
        xsave.ifPresent(vcpu::setXsave);
        xcrs.ifPresent(vcpu::setXcrs);
        int accepted = vcpu.setMsrs(msrs);
        if (accepted != msrs.size()) {
            throw new IllegalStateException(String.format("vCPU %s refused MSR 0x%x, which its source had",
                    identity, msrs.get(accepted).index()));
        }
        events.ifPresent(vcpu::setVcpuEvents);
        vcpu.setMpState(mpState);
    }

    /**
     * Makes the guest's TSC tick at the rate it did on the source: a guest calibrates its clocks against the TSC
     * once, at boot. Where this node's rate differs, KVM_SET_TSC_KHZ asks KVM for the source's, which it grants
     * within its tolerance, by TSC scaling (KVM_CAP_TSC_CONTROL), or for a faster rate by catching up; otherwise
     * the restore fails rather than let the guest's time run at another rate.
     */
    private void keepTscRate(HypervisorVcpu vcpu, int sourceKhz) {
        OptionalInt here = vcpu.getTscKhz();
        if (here.isPresent() && here.getAsInt() == sourceKhz) {
            return;
        }
        try {
            vcpu.setTscKhz(sourceKhz);
        } catch (KvmException | UnsupportedOperationException e) {
            throw new IllegalStateException(String.format("vCPU %s: the guest's TSC ran at %d kHz on its source, "
                    + "here at %s, and this node cannot run it at %d kHz (%s)", identity, sourceKhz,
                    here.isPresent() ? here.getAsInt() + " kHz" : "no known rate", sourceKhz, e.getMessage()), e);
        }
    }
}
