package io.quarkvm.kvm;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import jnr.ffi.Pointer;

/**
 * A vCPU file descriptor and its mmapped kvm_run, created by {@link VmFd#createVcpu}. KVM expects every ioctl on
 * a vCPU from the thread that runs it; only {@link #requestImmediateExit} may be called from another thread.
 */
public final class VcpuFd extends FdHandle implements HypervisorVcpu {

    private final int apicId;
    private final NativeMapping runMapping;
    private final KvmRun run;
    private final VcpuStateSupport stateSupport;

    VcpuFd(int fd, int apicId, NativeMapping runMapping, VcpuStateSupport stateSupport) {
        super(fd);
        this.apicId = apicId;
        this.runMapping = runMapping;
        this.run = new KvmRun(runMapping.pointer());
        this.stateSupport = stateSupport;
    }

    /** The vcpu_id it was created with. */
    @Override
    public int apicId() {
        return apicId;
    }

    /** KVM_RUN: enters the guest until the next exit; EINTR is {@link VcpuExit.Interrupted}, not an error. */
    @Override
    public VcpuExit run() {
        requireOpen("KVM_RUN");
        int result = Posix.LIBC.ioctl(fd(), KvmIoctls.KVM_RUN, 0L);
        if (result < 0) {
            int errno = Posix.errno();
            if (errno == Errno.EINTR) {
                return new VcpuExit.Interrupted();
            }
            throw new KvmException("KVM_RUN", errno);
        }
        return run.decodeExit();
    }

    /** Sets or clears kvm_run.immediate_exit; the one call any thread may make. */
    @Override
    public void requestImmediateExit(boolean exit) {
        requireOpen("kvm_run.immediate_exit"); // the caller must also keep close() from racing with this
        run.setImmediateExit(exit);
    }

    /** Answers the pending KVM_EXIT_X86_RDMSR with {@code value}. */
    @Override
    public void answerRdmsr(long value) {
        run.answerRdmsr(value);
    }

    /** Answers the pending KVM_EXIT_X86_RDMSR/WRMSR with an error: the guest gets #GP. */
    @Override
    public void refuseMsrAccess() {
        run.refuseMsrAccess();
    }

    /** Answers the pending KVM_EXIT_IO IN with {@code value}. */
    @Override
    public void answerIoIn(long value) {
        run.answerIoIn(value);
    }

    /** Answers the pending KVM_EXIT_MMIO read with {@code value}. */
    @Override
    public void answerMmioRead(long value) {
        run.answerMmioRead(value);
    }

    /** KVM_GET_REGS */
    @Override
    public KvmRegs getRegs() {
        Pointer memory = Posix.allocate(KvmRegs.SIZE);
        ioctl("KVM_GET_REGS", KvmIoctls.KVM_GET_REGS, memory);
        return KvmRegs.readFrom(memory);
    }

    /** KVM_SET_REGS */
    @Override
    public void setRegs(KvmRegs regs) {
        Pointer memory = Posix.allocate(KvmRegs.SIZE);
        regs.writeTo(memory);
        ioctl("KVM_SET_REGS", KvmIoctls.KVM_SET_REGS, memory);
    }

    /** KVM_GET_SREGS */
    @Override
    public KvmSregs getSregs() {
        Pointer memory = Posix.allocate(KvmSregs.SIZE);
        ioctl("KVM_GET_SREGS", KvmIoctls.KVM_GET_SREGS, memory);
        return KvmSregs.readFrom(memory);
    }

    /** KVM_SET_SREGS */
    @Override
    public void setSregs(KvmSregs sregs) {
        Pointer memory = Posix.allocate(KvmSregs.SIZE);
        sregs.writeTo(memory);
        ioctl("KVM_SET_SREGS", KvmIoctls.KVM_SET_SREGS, memory);
    }

    /** KVM_SET_CPUID2: what CPUID answers in this vCPU (only before its first KVM_RUN on recent kernels). */
    @Override
    public void setCpuid2(List<CpuidEntry> entries) {
        ioctl("KVM_SET_CPUID2", KvmIoctls.KVM_SET_CPUID2, KvmCpuid2.write(entries));
    }

    /** KVM_GET_CPUID2: the CPUID table the vCPU has. */
    @Override
    public List<CpuidEntry> getCpuid2() {
        for (int capacity = Kvm.CPUID_INITIAL_CAPACITY; ; capacity *= 2) {
            Pointer cpuid = KvmCpuid2.allocate(capacity);
            try {
                ioctl("KVM_GET_CPUID2", KvmIoctls.KVM_GET_CPUID2, cpuid);
                return KvmCpuid2.read(cpuid);
            } catch (KvmException e) {
                if (e.errno() != Errno.E2BIG || capacity >= Kvm.CPUID_MAX_CAPACITY) {
                    throw e;
                }
            }
        }
    }

    /** KVM_GET_MSRS: the MSRs KVM could read, in order; fewer than asked when one is not readable. */
    @Override
    public List<MsrEntry> getMsrs(int... indices) {
        List<MsrEntry> request = Arrays.stream(indices).mapToObj(index -> new MsrEntry(index, 0)).toList();
        Pointer memory = KvmMsrs.write(request);
        int read = ioctl("KVM_GET_MSRS", KvmIoctls.KVM_GET_MSRS, memory);
        return KvmMsrs.read(memory, read);
    }

    /** KVM_SET_MSRS: returns how many of the entries, in order, KVM accepted. */
    @Override
    public int setMsrs(List<MsrEntry> entries) {
        return ioctl("KVM_SET_MSRS", KvmIoctls.KVM_SET_MSRS, KvmMsrs.write(entries));
    }

    /** KVM_GET_FPU */
    @Override
    public KvmFpu getFpu() {
        Pointer memory = Posix.allocate(KvmFpu.SIZE);
        ioctl("KVM_GET_FPU", KvmIoctls.KVM_GET_FPU, memory);
        return KvmFpu.readFrom(memory);
    }

    /** KVM_SET_FPU */
    @Override
    public void setFpu(KvmFpu fpu) {
        Pointer memory = Posix.allocate(KvmFpu.SIZE);
        fpu.writeTo(memory);
        ioctl("KVM_SET_FPU", KvmIoctls.KVM_SET_FPU, memory);
    }

    /** KVM_GET_XSAVE2 (KVM_GET_XSAVE on kernels before it); empty without KVM_CAP_XSAVE. */
    @Override
    public Optional<KvmXsave> getXsave() {
        if (stateSupport.xsaveBytes() == 0) {
            return Optional.empty();
        }
        Pointer memory = Posix.allocate(stateSupport.xsaveBytes());
        if (stateSupport.xsave2()) {
            ioctl("KVM_GET_XSAVE2", KvmIoctls.KVM_GET_XSAVE2, memory);
        } else {
            ioctl("KVM_GET_XSAVE", KvmIoctls.KVM_GET_XSAVE, memory);
        }
        return Optional.of(KvmXsave.readFrom(memory, stateSupport.xsaveBytes()));
    }

    /** KVM_SET_XSAVE, from a buffer of this VM's XSAVE size: KVM reads that many bytes whatever the area's own. */
    @Override
    public void setXsave(KvmXsave xsave) {
        requireSupported(stateSupport.xsaveBytes() > 0, "KVM_SET_XSAVE", KvmCapability.XSAVE);
        Pointer memory = Posix.allocate(stateSupport.xsaveBytes());
        xsave.writeTo(memory, stateSupport.xsaveBytes());
        ioctl("KVM_SET_XSAVE", KvmIoctls.KVM_SET_XSAVE, memory);
    }

    /** KVM_GET_XCRS; empty without KVM_CAP_XCRS. */
    @Override
    public Optional<List<XcrEntry>> getXcrs() {
        if (!stateSupport.xcrs()) {
            return Optional.empty();
        }
        Pointer memory = Posix.allocate(KvmXcrs.SIZE);
        ioctl("KVM_GET_XCRS", KvmIoctls.KVM_GET_XCRS, memory);
        return Optional.of(KvmXcrs.read(memory));
    }

    /** KVM_SET_XCRS */
    @Override
    public void setXcrs(List<XcrEntry> xcrs) {
        requireSupported(stateSupport.xcrs(), "KVM_SET_XCRS", KvmCapability.XCRS);
        ioctl("KVM_SET_XCRS", KvmIoctls.KVM_SET_XCRS, KvmXcrs.write(xcrs));
    }

    /** KVM_GET_VCPU_EVENTS; empty without KVM_CAP_VCPU_EVENTS. */
    @Override
    public Optional<KvmVcpuEvents> getVcpuEvents() {
        if (!stateSupport.vcpuEvents()) {
            return Optional.empty();
        }
        Pointer memory = Posix.allocate(KvmVcpuEvents.SIZE);
        ioctl("KVM_GET_VCPU_EVENTS", KvmIoctls.KVM_GET_VCPU_EVENTS, memory);
        return Optional.of(KvmVcpuEvents.readFrom(memory));
    }

    /** KVM_SET_VCPU_EVENTS */
    @Override
    public void setVcpuEvents(KvmVcpuEvents events) {
        requireSupported(stateSupport.vcpuEvents(), "KVM_SET_VCPU_EVENTS", KvmCapability.VCPU_EVENTS);
        Pointer memory = Posix.allocate(KvmVcpuEvents.SIZE);
        events.writeTo(memory);
        ioctl("KVM_SET_VCPU_EVENTS", KvmIoctls.KVM_SET_VCPU_EVENTS, memory);
    }

    /** KVM_GET_TSC_KHZ; empty without KVM_CAP_GET_TSC_KHZ. */
    @Override
    public OptionalInt getTscKhz() {
        if (!stateSupport.tscKhz()) {
            return OptionalInt.empty();
        }
        return OptionalInt.of(ioctl("KVM_GET_TSC_KHZ", KvmIoctls.KVM_GET_TSC_KHZ, 0L));
    }

    /** KVM_SET_TSC_KHZ: the kernel decides whether it can run the guest's TSC at that rate (see the interface). */
    @Override
    public void setTscKhz(int khz) {
        ioctl("KVM_SET_TSC_KHZ", KvmIoctls.KVM_SET_TSC_KHZ, Integer.toUnsignedLong(khz));
    }

    private static void requireSupported(boolean supported, String ioctl, KvmCapability capability) {
        if (!supported) {
            throw new UnsupportedOperationException(ioctl + ": this KVM does not offer " + capability.cName());
        }
    }

    /** KVM_GET_MP_STATE: one of the {@link KvmMpState} values. */
    @Override
    public int getMpState() {
        Pointer memory = Posix.allocate(KvmMpState.SIZE);
        ioctl("KVM_GET_MP_STATE", KvmIoctls.KVM_GET_MP_STATE, memory);
        return memory.getInt(0);
    }

    /** KVM_SET_MP_STATE */
    @Override
    public void setMpState(int mpState) {
        Pointer memory = Posix.allocate(KvmMpState.SIZE);
        memory.putInt(0, mpState);
        ioctl("KVM_SET_MP_STATE", KvmIoctls.KVM_SET_MP_STATE, memory);
    }

    /** KVM_SET_SIGNAL_MASK: the kernel sigset (bit n-1 = signal n) in force while the thread is in KVM_RUN. */
    @Override
    public void setSignalMask(long kernelSigset) {
        ioctl("KVM_SET_SIGNAL_MASK", KvmIoctls.KVM_SET_SIGNAL_MASK, KvmSignalMask.toNative(kernelSigset));
    }

    @Override
    void releaseResources() {
        runMapping.close();
    }
}
