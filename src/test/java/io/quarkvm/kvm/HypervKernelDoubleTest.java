package io.quarkvm.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkvm.emulated.TestHypervisors;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The double's host-side behaviour over KVM, or over the emulated backend where /dev/kvm is missing (the guest side is
 * tested by the VMM's KernelVpIndexTest).
 */
class HypervKernelDoubleTest {

    private static final int VP_INDEX = HypervKernelDouble.HV_X64_MSR_VP_INDEX;

    @Test
    void noneIsTheRealKernel() {
        try (Hypervisor hypervisor = KvmAvailability.openOrSkip(KernelHyperv.NONE)) {
            assertSame(Kvm.class, hypervisor.getClass());
        }
    }

    @Test
    void implicitReportsHypervWithoutVpIndexAndAnswersTheCreationOrder() {
        try (Hypervisor hypervisor = TestHypervisors.open(KernelHyperv.IMPLICIT);
             Hypervisor real = TestHypervisors.open()) {
            assertEquals(1, hypervisor.checkExtension(KvmCapability.HYPERV));
            assertEquals(0, hypervisor.checkExtension(KvmCapability.HYPERV_VP_INDEX));
            assertEquals(real.checkExtension(KvmCapability.MAX_VCPUS), hypervisor.checkExtension(KvmCapability.MAX_VCPUS));
            try (HypervisorVm vm = hypervisor.createVm()) {
                List<HypervisorVcpu> vcpus = new ArrayList<>();
                for (int apicId : new int[] {9, 3, 0}) { // vcpu_idx follows creation, not the APIC ID
                    vcpus.add(vm.createVcpu(apicId));
                }
                for (int idx = 0; idx < vcpus.size(); idx++) {
                    assertEquals(List.of(new MsrEntry(VP_INDEX, idx)), vcpus.get(idx).getMsrs(VP_INDEX));
                    assertEquals(0, vcpus.get(idx).setMsrs(List.of(new MsrEntry(VP_INDEX, 7))), "host write refused");
                    assertEquals(0, vcpus.get(idx).setMsrs(List.of(new MsrEntry(VP_INDEX, idx))), "even of the same");
                    assertEquals(List.of(new MsrEntry(VP_INDEX, idx)), vcpus.get(idx).getMsrs(VP_INDEX));
                }
                vcpus.forEach(HypervisorVcpu::close);
            }
        }
    }

    @Test
    void settableTakesValuesBelowKvmMaxVcpusAndRefusesTheRest() {
        try (Hypervisor hypervisor = TestHypervisors.open(KernelHyperv.SETTABLE)) {
            assertEquals(1, hypervisor.checkExtension(KvmCapability.HYPERV));
            assertEquals(1, hypervisor.checkExtension(KvmCapability.HYPERV_VP_INDEX));
            int maxVcpus = hypervisor.checkExtension(KvmCapability.MAX_VCPUS);
            try (HypervisorVm vm = hypervisor.createVm(); HypervisorVcpu first = vm.createVcpu(4);
                 HypervisorVcpu second = vm.createVcpu(2)) {
                assertEquals(List.of(new MsrEntry(VP_INDEX, 0)), first.getMsrs(VP_INDEX), "initially vcpu_idx");
                assertEquals(List.of(new MsrEntry(VP_INDEX, 1)), second.getMsrs(VP_INDEX));
                assertEquals(1, first.setMsrs(List.of(new MsrEntry(VP_INDEX, 42))));
                assertEquals(List.of(new MsrEntry(VP_INDEX, 42)), first.getMsrs(VP_INDEX));
                assertEquals(1, second.setMsrs(List.of(new MsrEntry(VP_INDEX, maxVcpus - 1))));
                assertEquals(0, second.setMsrs(List.of(new MsrEntry(VP_INDEX, maxVcpus))), "KVM_MAX_VCPUS refused");
                assertEquals(1, second.setMsrs(List.of(new MsrEntry(VP_INDEX, 5), new MsrEntry(VP_INDEX, maxVcpus + 7))),
                        "the ioctl stops at the refused entry");
                assertEquals(List.of(new MsrEntry(VP_INDEX, 5)), second.getMsrs(VP_INDEX));
                assertEquals(1, second.setMsrs(List.of(new MsrEntry(VP_INDEX, (1L << 32) + 3))), "(u32)data is taken");
                assertEquals(List.of(new MsrEntry(VP_INDEX, 3)), second.getMsrs(VP_INDEX));
            }
        }
    }

    @Test
    void callerFiltersDecideWhetherAnMsrIsAllowed() {
        KvmMsrFilter filter = new KvmMsrFilter(false, List.of(KvmMsrFilter.Range.denying(VP_INDEX, KvmMsrFilter.WRITE)));
        assertTrue(filter.allows(VP_INDEX, KvmMsrFilter.READ));
        assertTrue(!filter.allows(VP_INDEX, KvmMsrFilter.WRITE));
        assertTrue(filter.allows(VP_INDEX + 1, KvmMsrFilter.WRITE));
        assertTrue(!new KvmMsrFilter(true, List.of()).allows(VP_INDEX, KvmMsrFilter.READ));
    }
}
