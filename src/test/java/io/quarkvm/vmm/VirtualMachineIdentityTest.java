package io.quarkvm.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkvm.domain.Topology;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VpIndexPolicy;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.emulated.TestHypervisors;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What the probe reads inside the guest equals the persisted identity, on real /dev/kvm. */
class VirtualMachineIdentityTest {

    /** 2 sockets × 3 cores × 2 threads: APIC IDs 0-5 and 8-13. */
    static final Topology HOLEY = new Topology(2, 1, 3, 2);

    private static Hypervisor kvm;

    @BeforeAll
    static void openKvm() {
        kvm = TestHypervisors.shared();
    }


    static List<VcpuIdentity> boot(Topology topology, VpIndexPolicy policy, int count) {
        List<VcpuIdentity> identities = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            identities.add(VcpuIdentity.assign(topology, policy, topology.slotAt(i), i));
        }
        return identities;
    }

    @Test
    void everyVcpuSeesItsApicIdAndVpIndexEqualToItsApicId() throws Exception {
        assertGuestSeesPersistedIdentities(boot(HOLEY, VpIndexPolicy.APIC_ID, HOLEY.maxVcpus()));
    }

    @Test
    void everyVcpuSeesItsApicIdAndVpIndexEqualToItsSlotIndex() throws Exception {
        assertGuestSeesPersistedIdentities(boot(HOLEY, VpIndexPolicy.SLOT_INDEX, HOLEY.maxVcpus()));
    }

    @Test
    void aVmWithFewerVcpusThanSlotsReportsJustThose() throws Exception {
        assertGuestSeesPersistedIdentities(boot(HOLEY, VpIndexPolicy.SLOT_INDEX, 5));
    }

    private void assertGuestSeesPersistedIdentities(List<VcpuIdentity> identities) throws Exception {
        ProbeReports reports = new ProbeReports(identities.size());
        VmSpec spec = VmSpec.probe(16, HOLEY, identities, true, VpIndexProvider.USERSPACE_MSR);
        try (VirtualMachine vm = VirtualMachine.start(kvm, spec, reports)) {
            reports.awaitAllReported();
            assertEquals(identities.size(), reports.identities.size());
            for (VcpuIdentity expected : identities) {
                GuestIdentity seen = reports.identities.get(expected.cpuIndex());
                assertEquals(expected.apicId(), seen.apicIdLeaf1(), "CPUID 0x1 APIC ID of " + expected);
                assertEquals(expected.apicId(), seen.x2ApicIdLeafB(), "CPUID 0xB x2APIC ID of " + expected);
                assertTrue(seen.hypervFound(), "Hyper-V advertised to " + expected);
                assertEquals(expected.vpIndex(), seen.vpIndex(), "VP index of " + expected);
                assertEquals(WrmsrOutcome.FAULTED, seen.wrmsr(), "WRMSR of the VP index refused for " + expected);
                assertEquals(1, vm.probeRecord(expected.cpuIndex()).gpFaults());
                assertTrue(vm.counters(expected.apicId()).msrAccessesRefused() >= 1);
            }
            assertTrue(reports.crashes.isEmpty(), reports.crashes.toString());
            assertTrue(reports.violations.isEmpty());
        }
        assertTrue(reports.awaitStopped(1));
    }

    @Test
    void withHypervOffTheGuestFindsNoHypervLeavesAndNeverReadsTheMsr() throws Exception {
        List<VcpuIdentity> identities = boot(HOLEY, VpIndexPolicy.SLOT_INDEX, 4);
        ProbeReports reports = new ProbeReports(identities.size());
        VmSpec spec = VmSpec.probe(16, HOLEY, identities, false, VpIndexProvider.USERSPACE_MSR);
        try (VirtualMachine vm = VirtualMachine.start(kvm, spec, reports)) {
            reports.awaitAllReported();
            for (VcpuIdentity expected : identities) {
                GuestIdentity seen = reports.identities.get(expected.cpuIndex());
                assertFalse(seen.hypervFound());
                assertEquals(GuestIdentity.NO_VP_INDEX, seen.vpIndex());
                assertEquals(WrmsrOutcome.NOT_TRIED, seen.wrmsr());
                assertEquals(expected.apicId(), seen.apicIdLeaf1());
                assertEquals(expected.apicId(), seen.x2ApicIdLeafB());
                assertEquals(0, vm.counters(expected.apicId()).rdmsrAnswered());
                assertEquals(0, vm.counters(expected.apicId()).msrAccessesRefused());
                assertEquals(0, vm.probeRecord(expected.cpuIndex()).gpFaults());
            }
        }
    }
}
