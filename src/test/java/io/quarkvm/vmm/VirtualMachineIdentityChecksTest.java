package io.quarkvm.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;


import io.quarkvm.domain.Slot;
import io.quarkvm.domain.Topology;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VpIndexPolicy;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.emulated.TestHypervisors;
import io.quarkvm.kvm.KvmCapability;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The guards around identities: refused specs, the pre-run check, and the probe noticing a change. */
class VirtualMachineIdentityChecksTest {

    private static final Topology FOUR = new Topology(1, 1, 2, 2);
    private static Hypervisor kvm;

    @BeforeAll
    static void openKvm() {
        kvm = TestHypervisors.shared();
    }


    @Test
    void specsWithInconsistentIdentitiesAreRefused() {
        Slot slot = FOUR.slotAt(3);
        assertThrows(IllegalArgumentException.class, () -> VmSpec.probe(8, FOUR,
                List.of(new VcpuIdentity(slot, 0, 2, 0)), true, VpIndexProvider.USERSPACE_MSR), "wrong APIC ID");
        VcpuIdentity first = VcpuIdentity.assign(FOUR, VpIndexPolicy.SLOT_INDEX, FOUR.slotAt(0), 0);
        VcpuIdentity sameVpIndex = new VcpuIdentity(FOUR.slotAt(1), 1, 1, 0);
        assertThrows(IllegalArgumentException.class, () -> VmSpec.probe(8, FOUR, List.of(first, sameVpIndex),
                true, VpIndexProvider.USERSPACE_MSR), "duplicate VP index");
        assertThrows(IllegalArgumentException.class, () -> VmSpec.probe(3, FOUR, List.of(first),
                true, VpIndexProvider.USERSPACE_MSR), "memory not a multiple of 2 MiB");
    }

    @Test
    void kernelProvidersAreRefusedWhereTheKernelLacksTheirCapability() {
        assumeTrue(kvm.checkExtension(KvmCapability.HYPERV) == 0, "this kernel has KVM_CAP_HYPERV");
        for (VpIndexProvider provider : List.of(VpIndexProvider.KERNEL_SETTABLE, VpIndexProvider.KERNEL_IMPLICIT,
                VpIndexProvider.UNSUPPORTED)) {
            VmSpec spec = VmSpec.probe(8, FOUR, VirtualMachineIdentityTest.boot(FOUR, VpIndexPolicy.SLOT_INDEX, 1),
                    true, provider);
            IllegalStateException refused = assertThrows(IllegalStateException.class,
                    () -> VirtualMachine.start(kvm, spec, VmListener.NONE));
            System.out.println(provider + " on the real kernel: " + refused.getMessage());
            assertTrue(refused.getMessage().contains(provider == VpIndexProvider.UNSUPPORTED ? "no VP index provider"
                    : provider == VpIndexProvider.KERNEL_SETTABLE ? "KVM_CAP_HYPERV_VP_INDEX" : "KVM_CAP_HYPERV"),
                    refused.getMessage());
        }
    }

    @Test
    void aHotPluggedVcpuWhoseVpIndexTheGuestWasNotPromisedNeverRuns() throws Exception {
        VmSpec spec = VmSpec.probe(8, FOUR, VirtualMachineIdentityTest.boot(FOUR, VpIndexPolicy.SLOT_INDEX, 2),
                true, VpIndexProvider.USERSPACE_MSR);
        ProbeReports reports = new ProbeReports(2);
        try (VirtualMachine vm = VirtualMachine.start(kvm, spec, reports)) {
            reports.awaitAllReported();
            // CPUID 0x40000005 promised at most 4 VPs: VP index 100 must not reach the guest.
            VcpuIdentity beyond = new VcpuIdentity(FOUR.slotAt(2), 2, FOUR.apicIdOf(FOUR.slotAt(2)), 100);
            IdentityMismatchException refused = assertThrows(IdentityMismatchException.class, () -> vm.hotplug(beyond));
            System.out.println("refused hot-plug: " + refused.getMessage());
            assertTrue(refused.getMessage().contains("advertised maximum"), refused.getMessage());
            assertEquals(VirtualMachine.State.RUNNING, vm.state());
            assertEquals(2, vm.pluggedVcpus().size());
            long beats = vm.heartbeats(0);
            Thread.sleep(20);
            assertTrue(vm.heartbeats(0) > beats, "the VM runs on");
        }
    }

    @Test
    void theProbeReportsAViolationWhenTheServedVpIndexChanges() throws Exception {
        VmSpec spec = VmSpec.probe(8, FOUR, VirtualMachineIdentityTest.boot(FOUR, VpIndexPolicy.SLOT_INDEX, 2),
                true, VpIndexProvider.USERSPACE_MSR);
        ProbeReports reports = new ProbeReports(2);
        try (VirtualMachine vm = VirtualMachine.start(kvm, spec, reports)) {
            reports.awaitAllReported();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            // The latest values are complete once the turn after the first re-check has begun: the re-check
            // exits to the VMM for its RDMSR, so the record can be read half-written while it runs.
            while (vm.heartbeats(1) <= GuestProbe.RECHECK_INTERVAL && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertTrue(vm.probeRecord(1).latest().isPresent(), "the probe has re-checked by now");
            assertTrue(reports.violations.isEmpty(), "no violation while nothing changes");
            assertEquals(vm.probeRecord(1).first(), vm.probeRecord(1).latest().orElseThrow());

            vm.serveVpIndex(1, 3);
            deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (!reports.violations.contains(1) && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertTrue(reports.violations.contains(1), "the probe on cpu_index 1 reported the change");
            assertTrue(!reports.violations.contains(0), "cpu_index 0 saw no change");
            ProbeRecord record = vm.probeRecord(1);
            assertEquals(1, record.first().vpIndex());
            assertEquals(3, record.latest().orElseThrow().vpIndex());
            assertTrue(record.violations() >= 1);
        }
    }
}
