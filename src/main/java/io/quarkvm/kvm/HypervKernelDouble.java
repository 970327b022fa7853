package io.quarkvm.kvm;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A kernel double: a real hypervisor underneath (guests really run on /dev/kvm, or on the emulated backend), plus the Hyper-V VP index behaviour
 * (HV_X64_MSR_VP_INDEX, 0x40000002) of kernels these machines do not have, so that the VMM's
 * {@code KERNEL_IMPLICIT} and {@code KERNEL_SETTABLE} providers can be tested. The VMM above sees only what it would
 * see of such a kernel: the guest's accesses to the MSR are answered inside {@link Vcpu#run()}, as in-kernel
 * emulation would answer them, and never reach the caller (unless the caller's own MSR filter asks for them).
 *
 * <p>What it reproduces, and where the kernel documents or implements it:
 * <ul>
 * <li>KVM_CHECK_EXTENSION (Documentation/virt/kvm/api.rst, 4.4 and 8.x "KVM_CAP_HYPERV", "KVM_CAP_HYPERV_VP_INDEX"):
 *     KVM_CAP_HYPERV = 1 in both modes; KVM_CAP_HYPERV_VP_INDEX = 1 in {@link KernelHyperv#SETTABLE}, 0 in
 *     {@link KernelHyperv#IMPLICIT}; every other capability is the real kernel's.</li>
 * <li>Initial VP index = vcpu_idx, the vCPU's creation order within the VM (0, 1, 2... counting only successful
 *     KVM_CREATE_VCPU, since kvm_vm_ioctl_create_vcpu in virt/kvm/kvm_main.c takes it from online_vcpus): in
 *     arch/x86/kvm/hyperv.c kvm_hv_vcpu_init sets {@code vp_index = vcpu->vcpu_idx}. Before Linux 4.13 (the
 *     implicit kernels) kvm_hv_get_msr answered HV_X64_MSR_VP_INDEX with the vCPU's position in the VM's vCPU
 *     array, i.e. the same creation order, and had no way to change it.</li>
 * <li>Host KVM_SET_MSRS of 0x40000002: {@link KernelHyperv#SETTABLE}: kvm_hv_set_msr accepts it from the host
 *     when {@code (u32)data < KVM_MAX_VCPUS} (here: the real kernel's KVM_CAP_MAX_VCPUS) and refuses it otherwise;
 *     {@link KernelHyperv#IMPLICIT}: the MSR is not writable at all (before 4.13 kvm_hv_set_msr had no case for
 *     it and returned 1). A refused entry ends KVM_SET_MSRS there: the ioctl returns how many entries were set
 *     (api.rst 4.19 "KVM_SET_MSRS"; __msr_io in arch/x86/kvm/x86.c).</li>
 * <li>Host KVM_GET_MSRS of 0x40000002 returns the current VP index in both modes (kvm_hv_get_msr).</li>
 * <li>Guest RDMSR returns the VP index; guest WRMSR gets #GP ({@code if (!host ...) return 1} in kvm_hv_set_msr;
 *     before 4.13 the MSR had no write case). In {@link KernelHyperv#SETTABLE} (a modern kernel) a guest access
 *     also needs the vCPU's CPUID to carry the Hyper-V signature "Hv#1" in 0x40000001 EAX (kvm_hv_get_msr_common /
 *     kvm_hv_set_msr_common check {@code vcpu->arch.hyperv_enabled}, which KVM_SET_CPUID2 sets through
 *     kvm_hv_set_cpuid), else #GP; the implicit kernels had no such check.</li>
 * <li>A user-space MSR filter still wins over in-kernel emulation (api.rst 4.126 "KVM_X86_SET_MSR_FILTER" and 7.21
 *     "KVM_CAP_X86_USER_SPACE_MSR"): when the caller's filter denies 0x40000002 and it enabled
 *     KVM_MSR_EXIT_REASON_FILTER, the exit goes up to the caller; when the kernel would inject #GP and the caller
 *     enabled KVM_MSR_EXIT_REASON_INVAL, an exit with that reason goes up instead.</li>
 * </ul>
 * How: on every VM it enables KVM_CAP_X86_USER_SPACE_MSR with KVM_MSR_EXIT_REASON_FILTER underneath and installs an
 * MSR filter whose first range denies 0x40000002 (the caller's ranges follow it, so at most 15 of them), and
 * answers those exits itself. Not reproduced: the rest of Hyper-V (SynIC, hypercalls, other MSRs),
 * KVM_GET_SUPPORTED_HV_CPUID, and KVM_CAP_HYPERV_ENFORCE_CPUID.
 */
public final class HypervKernelDouble implements Hypervisor {

    /** HV_X64_MSR_VP_INDEX (arch/x86/include/asm/hyperv-tlfs.h). */
    public static final int HV_X64_MSR_VP_INDEX = 0x40000002;
    /** HYPERV_CPUID_INTERFACE and its "Hv#1" signature in EAX (arch/x86/kvm/hyperv.c). */
    private static final int HYPERV_CPUID_INTERFACE = 0x40000001;
    private static final int HYPERV_CPUID_SIGNATURE_EAX = 0x31237648;

    private final Hypervisor kvm;
    private final KernelHyperv mode;
    private final long maxVcpus;

    /** A double over any hypervisor that has user-space MSR exits and MSR filters: KVM or the emulated backend. */
    public HypervKernelDouble(Hypervisor kvm, KernelHyperv mode) {
        if (mode == KernelHyperv.NONE) {
            throw new IllegalArgumentException("the kernel double needs a Hyper-V mode, not " + mode);
        }
        for (KvmCapability needed : List.of(KvmCapability.X86_USER_SPACE_MSR, KvmCapability.X86_MSR_FILTER)) {
            if (kvm.checkExtension(needed) <= 0) {
                throw new IllegalStateException("the Hyper-V kernel double needs " + needed.cName()
                        + " from the real KVM underneath");
            }
        }
        this.kvm = kvm;
        this.mode = mode;
        this.maxVcpus = kvm.checkExtension(KvmCapability.MAX_VCPUS);
    }

    public KernelHyperv mode() {
        return mode;
    }

    @Override
    public int apiVersion() {
        return kvm.apiVersion();
    }

    @Override
    public int checkExtension(KvmCapability capability) {
        return switch (capability) {
            case HYPERV -> 1;
            case HYPERV_VP_INDEX -> mode == KernelHyperv.SETTABLE ? 1 : 0;
            // A kernel without a settable VP index is older than 4.13, so older than the user-space MSR exits
            // (5.10) too: in that mode the double hides them, as such a kernel would not have them.
            case X86_USER_SPACE_MSR, X86_MSR_FILTER -> mode == KernelHyperv.IMPLICIT ? 0 : kvm.checkExtension(capability);
            default -> kvm.checkExtension(capability);
        };
    }

    @Override
    public List<CpuidEntry> supportedCpuid() {
        return kvm.supportedCpuid();
    }

    @Override
    public HypervisorVm createVm() {
        HypervisorVm vm = kvm.createVm();
        try {
            return new Vm(vm);
        } catch (RuntimeException e) {
            vm.close();
            throw e;
        }
    }

    @Override
    public void close() {
        kvm.close();
    }

    @Override
    public String toString() {
        return "Hyper-V kernel double (" + mode + ") over " + kvm;
    }

    /** A real VM whose vCPUs get the kernel's VP index behaviour. */
    private final class Vm implements HypervisorVm {

        private final HypervisorVm vm;
        /** Guarded by this: vCPUs created so far, the next vcpu_idx. */
        private int created;
        private volatile KvmMsrFilter callerFilter = new KvmMsrFilter(false, List.of());
        private volatile long callerExitReasons;

        Vm(HypervisorVm vm) {
            this.vm = vm;
            vm.enableCap(new KvmEnableCap(KvmCapability.X86_USER_SPACE_MSR, VmFd.MSR_EXIT_REASON_FILTER));
            installFilter(callerFilter);
        }

        private void installFilter(KvmMsrFilter caller) {
            List<KvmMsrFilter.Range> ranges = new ArrayList<>();
            ranges.add(KvmMsrFilter.Range.denying(HV_X64_MSR_VP_INDEX, KvmMsrFilter.READ | KvmMsrFilter.WRITE));
            ranges.addAll(caller.ranges());
            if (ranges.size() > KvmMsrFilter.MAX_RANGES) {
                throw new IllegalArgumentException("the Hyper-V kernel double takes one MSR filter range itself: "
                        + "at most " + (KvmMsrFilter.MAX_RANGES - 1) + " ranges remain");
            }
            vm.setMsrFilter(new KvmMsrFilter(caller.defaultDeny(), ranges));
        }

        @Override
        public void setUserMemoryRegion(KvmUserspaceMemoryRegion region) {
            vm.setUserMemoryRegion(region);
        }

        @Override
        public void enableCap(KvmEnableCap cap) {
            if (cap.capability() != KvmCapability.X86_USER_SPACE_MSR) {
                vm.enableCap(cap);
                return;
            }
            long[] args = cap.args();
            long reasons = args.length == 0 ? 0 : args[0];
            args = args.length == 0 ? new long[1] : args;
            args[0] = reasons | VmFd.MSR_EXIT_REASON_FILTER;
            vm.enableCap(new KvmEnableCap(cap.capability(), args));
            callerExitReasons = reasons;
        }

        @Override
        public void setMsrFilter(KvmMsrFilter filter) {
            installFilter(filter);
            callerFilter = filter;
        }

        @Override
        public BitSet getDirtyLog(int slot) {
            return vm.getDirtyLog(slot);
        }

        @Override
        public synchronized HypervisorVcpu createVcpu(int apicId) {
            HypervisorVcpu vcpu = vm.createVcpu(apicId); // KVM serializes KVM_CREATE_VCPU too (kvm->lock)
            return new Vcpu(this, vcpu, created++);
        }

        /** Whether the caller asked to see this guest access itself (its filter denies it, with exits on). */
        boolean callerTakes(int msr, int operation) {
            return (callerExitReasons & VmFd.MSR_EXIT_REASON_FILTER) != 0 && !callerFilter.allows(msr, operation);
        }

        boolean callerTakesInvalidAccesses() {
            return (callerExitReasons & VmFd.MSR_EXIT_REASON_INVAL) != 0;
        }

        @Override
        public void close() {
            vm.close();
        }
    }

    /** A real vCPU whose HV_X64_MSR_VP_INDEX the double keeps, as the kernel's Hyper-V emulation would. */
    private final class Vcpu implements HypervisorVcpu {

        private final Vm vm;
        private final HypervisorVcpu vcpu;
        private final int vcpuIdx;
        /** The VP index: vcpu_idx until the host sets it (SETTABLE only). Read by the vCPU's own thread. */
        private long vpIndex;
        /** KVM_SET_CPUID2 gave it the "Hv#1" signature (vcpu->arch.hyperv_enabled). */
        private boolean hypervEnabled;

        Vcpu(Vm vm, HypervisorVcpu vcpu, int vcpuIdx) {
            this.vm = vm;
            this.vcpu = vcpu;
            this.vcpuIdx = vcpuIdx;
            this.vpIndex = vcpuIdx;
        }

        @Override
        public int apicId() {
            return vcpu.apicId();
        }

        /** Runs the real vCPU, answering the guest's accesses to the VP index MSR the way the kernel does. */
        @Override
        public VcpuExit run() {
            while (true) {
                VcpuExit exit = vcpu.run();
                if (exit instanceof VcpuExit.RdMsr read && read.index() == HV_X64_MSR_VP_INDEX
                        && read.reason() == VmFd.MSR_EXIT_REASON_FILTER && !vm.callerTakes(read.index(), KvmMsrFilter.READ)) {
                    if (guestMayAccess()) {
                        vcpu.answerRdmsr(vpIndex);
                    } else if (vm.callerTakesInvalidAccesses()) {
                        return new VcpuExit.RdMsr(read.index(), (int) VmFd.MSR_EXIT_REASON_INVAL);
                    } else {
                        vcpu.refuseMsrAccess();
                    }
                } else if (exit instanceof VcpuExit.WrMsr write && write.index() == HV_X64_MSR_VP_INDEX
                        && write.reason() == VmFd.MSR_EXIT_REASON_FILTER
                        && !vm.callerTakes(write.index(), KvmMsrFilter.WRITE)) {
                    // The kernel refuses every guest write of the VP index.
                    if (vm.callerTakesInvalidAccesses()) {
                        return new VcpuExit.WrMsr(write.index(), (int) VmFd.MSR_EXIT_REASON_INVAL, write.data());
                    }
                    vcpu.refuseMsrAccess();
                } else {
                    return exit;
                }
            }
        }

        private boolean guestMayAccess() {
            return mode == KernelHyperv.IMPLICIT || hypervEnabled;
        }

        @Override
        public List<MsrEntry> getMsrs(int... indices) {
            List<MsrEntry> read = new ArrayList<>(indices.length);
            int from = 0;
            while (from < indices.length) {
                if (indices[from] == HV_X64_MSR_VP_INDEX) {
                    read.add(new MsrEntry(HV_X64_MSR_VP_INDEX, vpIndex));
                    from++;
                    continue;
                }
                int to = from;
                while (to < indices.length && indices[to] != HV_X64_MSR_VP_INDEX) {
                    to++;
                }
                List<MsrEntry> real = vcpu.getMsrs(java.util.Arrays.copyOfRange(indices, from, to));
                read.addAll(real);
                if (real.size() < to - from) {
                    return read;
                }
                from = to;
            }
            return read;
        }

        @Override
        public int setMsrs(List<MsrEntry> entries) {
            int set = 0;
            while (set < entries.size()) {
                MsrEntry entry = entries.get(set);
                if (entry.index() == HV_X64_MSR_VP_INDEX) {
                    long newVpIndex = entry.data() & 0xFFFF_FFFFL; // (u32)data
                    if (mode != KernelHyperv.SETTABLE || newVpIndex >= maxVcpus) {
                        return set;
                    }
                    vpIndex = newVpIndex;
                    set++;
                    continue;
                }
                int to = set;
                while (to < entries.size() && entries.get(to).index() != HV_X64_MSR_VP_INDEX) {
                    to++;
                }
                int accepted = vcpu.setMsrs(entries.subList(set, to));
                set += accepted;
                if (set < to) {
                    return set;
                }
            }
            return set;
        }

        @Override
        public void setCpuid2(List<CpuidEntry> entries) {
            vcpu.setCpuid2(entries);
            hypervEnabled = entries.stream().anyMatch(entry -> entry.function() == HYPERV_CPUID_INTERFACE
                    && entry.eax() == HYPERV_CPUID_SIGNATURE_EAX);
        }

        @Override
        public void requestImmediateExit(boolean exit) {
            vcpu.requestImmediateExit(exit);
        }

        @Override
        public void answerRdmsr(long value) {
            vcpu.answerRdmsr(value);
        }

        @Override
        public void refuseMsrAccess() {
            vcpu.refuseMsrAccess();
        }

        @Override
        public void answerIoIn(long value) {
            vcpu.answerIoIn(value);
        }

        @Override
        public void answerMmioRead(long value) {
            vcpu.answerMmioRead(value);
        }

        @Override
        public KvmRegs getRegs() {
            return vcpu.getRegs();
        }

        @Override
        public void setRegs(KvmRegs regs) {
            vcpu.setRegs(regs);
        }

        @Override
        public KvmSregs getSregs() {
            return vcpu.getSregs();
        }

        @Override
        public void setSregs(KvmSregs sregs) {
            vcpu.setSregs(sregs);
        }

        @Override
        public List<CpuidEntry> getCpuid2() {
            return vcpu.getCpuid2();
        }

        @Override
        public KvmFpu getFpu() {
            return vcpu.getFpu();
        }

        @Override
        public void setFpu(KvmFpu fpu) {
            vcpu.setFpu(fpu);
        }

        @Override
        public Optional<KvmXsave> getXsave() {
            return vcpu.getXsave();
        }

        @Override
        public void setXsave(KvmXsave xsave) {
            vcpu.setXsave(xsave);
        }

        @Override
        public Optional<List<XcrEntry>> getXcrs() {
            return vcpu.getXcrs();
        }

        @Override
        public void setXcrs(List<XcrEntry> xcrs) {
            vcpu.setXcrs(xcrs);
        }

        @Override
        public Optional<KvmVcpuEvents> getVcpuEvents() {
            return vcpu.getVcpuEvents();
        }

        @Override
        public void setVcpuEvents(KvmVcpuEvents events) {
            vcpu.setVcpuEvents(events);
        }

        @Override
        public OptionalInt getTscKhz() {
            return vcpu.getTscKhz();
        }

        @Override
        public void setTscKhz(int khz) {
            vcpu.setTscKhz(khz);
        }

        @Override
        public int getMpState() {
            return vcpu.getMpState();
        }

        @Override
        public void setMpState(int mpState) {
            vcpu.setMpState(mpState);
        }

        @Override
        public void setSignalMask(long kernelSigset) {
            vcpu.setSignalMask(kernelSigset);
        }

        @Override
        public void close() {
            vcpu.close();
        }

        @Override
        public String toString() {
            return "vCPU " + vcpu.apicId() + " (vcpu_idx " + vcpuIdx + ", VP index " + vpIndex + ")";
        }
    }
}
