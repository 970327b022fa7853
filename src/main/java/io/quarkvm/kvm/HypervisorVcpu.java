package io.quarkvm.kvm;

import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A vCPU of a {@link HypervisorVm}, implemented by {@link VcpuFd}. Every call must come from the thread that created
 * it, except {@link #requestImmediateExit}.
 */
public interface HypervisorVcpu extends AutoCloseable {

    /** The vcpu_id it was created with. */
    int apicId();

    /** KVM_RUN: enters the guest until the next exit; EINTR is {@link VcpuExit.Interrupted}, not an error. */
    VcpuExit run();

    /** Sets or clears kvm_run.immediate_exit; the one call any thread may make. */
    void requestImmediateExit(boolean exit);

    /** Answers the pending KVM_EXIT_X86_RDMSR with {@code value}. */
    void answerRdmsr(long value);

    /** Answers the pending KVM_EXIT_X86_RDMSR/WRMSR with an error: the guest gets #GP. */
    void refuseMsrAccess();

    /** Answers the pending KVM_EXIT_IO IN with {@code value}. */
    void answerIoIn(long value);

    /** Answers the pending KVM_EXIT_MMIO read with {@code value}. */
    void answerMmioRead(long value);

    /** KVM_GET_REGS */
    KvmRegs getRegs();

    /** KVM_SET_REGS */
    void setRegs(KvmRegs regs);

    /** KVM_GET_SREGS */
    KvmSregs getSregs();

    /** KVM_SET_SREGS */
    void setSregs(KvmSregs sregs);

    /** KVM_SET_CPUID2 */
    void setCpuid2(List<CpuidEntry> entries);

    /** KVM_GET_CPUID2 */
    List<CpuidEntry> getCpuid2();

    /** KVM_GET_MSRS: the MSRs read, in order; fewer than asked when one is not readable. */
    List<MsrEntry> getMsrs(int... indices);

    /** KVM_SET_MSRS: how many of the entries, in order, were accepted (it stops at the first refused). */
    int setMsrs(List<MsrEntry> entries);

    /** KVM_GET_FPU: x87, SSE registers and MXCSR. */
    KvmFpu getFpu();

    /** KVM_SET_FPU */
    void setFpu(KvmFpu fpu);

    /**
     * KVM_GET_XSAVE (KVM_GET_XSAVE2 where the area is larger): the whole XSAVE area, x87 and SSE included. Empty
     * when this hypervisor keeps no XSAVE state (KVM without KVM_CAP_XSAVE).
     */
    Optional<KvmXsave> getXsave();

    /**
     * KVM_SET_XSAVE
     *
     * @throws UnsupportedOperationException this hypervisor cannot hold that state (no XSAVE, or components it
     *                                       does not keep)
     */
    void setXsave(KvmXsave xsave);

    /** KVM_GET_XCRS: XCR0 and any other extended control register; empty when this hypervisor has none to give. */
    Optional<List<XcrEntry>> getXcrs();

    /**
     * KVM_SET_XCRS
     *
     * @throws UnsupportedOperationException this hypervisor has no XCRs to set
     */
    void setXcrs(List<XcrEntry> xcrs);

    /** KVM_GET_VCPU_EVENTS: empty when this hypervisor cannot say (KVM without KVM_CAP_VCPU_EVENTS). */
    Optional<KvmVcpuEvents> getVcpuEvents();

    /**
     * KVM_SET_VCPU_EVENTS
     *
     * @throws UnsupportedOperationException this hypervisor cannot take those events
     */
    void setVcpuEvents(KvmVcpuEvents events);

    /** KVM_GET_TSC_KHZ: the rate of the guest's TSC; empty when this hypervisor has no such rate to give. */
    OptionalInt getTscKhz();

    /**
     * KVM_SET_TSC_KHZ: runs the guest's TSC at {@code khz}. Without KVM_CAP_TSC_CONTROL KVM accepts a rate within
     * its tolerance of the host's (module parameter kvm.tsc_tolerance_ppm, 250 by default), or a faster one, which
     * it keeps up by catching the TSC up at guest entries, and refuses a slower one (EINVAL, as seen here).
     *
     * @throws KvmException                  the kernel refused the rate
     * @throws UnsupportedOperationException this hypervisor has no TSC rate to set
     */
    void setTscKhz(int khz);

    /** KVM_GET_MP_STATE */
    int getMpState();

    /** KVM_SET_MP_STATE */
    void setMpState(int mpState);

    /** KVM_SET_SIGNAL_MASK */
    void setSignalMask(long kernelSigset);

    @Override
    void close();
}
