package io.quarkvm.vmm;

import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.kvm.HypervisorVm;
import io.quarkvm.kvm.KvmCapability;
import io.quarkvm.kvm.KvmEnableCap;
import io.quarkvm.kvm.KvmMsrFilter;
import io.quarkvm.kvm.VmFd;
import java.util.List;

/**
 * {@code VpIndexProvider.USERSPACE_MSR}: KVM hands every guest RDMSR/WRMSR of HV_X64_MSR_VP_INDEX to the vCPU
 * thread (an MSR filter denies both, and KVM_CAP_X86_USER_SPACE_MSR turns "denied by the filter" into an exit
 * instead of a #GP). The vCPU thread answers reads with the persisted VP index and refuses writes (#GP), as a
 * read-only MSR must.
 */
final class UserspaceVpIndex {

    private UserspaceVpIndex() {
    }

    static void requireSupported(Hypervisor kvm) {
        for (KvmCapability needed : List.of(KvmCapability.X86_USER_SPACE_MSR, KvmCapability.X86_MSR_FILTER)) {
            if (kvm.checkExtension(needed) <= 0) {
                throw new IllegalStateException("VP index from user space needs " + needed.cName()
                        + ", which this node's KVM lacks");
            }
        }
    }

    static void install(HypervisorVm vm) {
        vm.enableCap(new KvmEnableCap(KvmCapability.X86_USER_SPACE_MSR, VmFd.MSR_EXIT_REASON_FILTER));
        vm.setMsrFilter(new KvmMsrFilter(false, List.of(KvmMsrFilter.Range.denying(GuestProbe.HV_X64_MSR_VP_INDEX,
                KvmMsrFilter.READ | KvmMsrFilter.WRITE))));
    }
}
