package io.quarkvm.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkvm.domain.Slot;
import io.quarkvm.domain.Topology;
import io.quarkvm.kvm.CpuidEntry;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The per-vCPU CPUID table, without KVM: built from a small made-up "supported" list. */
class GuestCpuidTest {

    private static final Topology HOLEY = new Topology(2, 1, 3, 2);
    private static final List<CpuidEntry> SUPPORTED = List.of(
            new CpuidEntry(0x0, 0, 0, 0x1c, 0x68747541, 0x444d4163, 0x69746e65),
            new CpuidEntry(0x1, 0, 0, 0x00b00f21, 0x01020800, 0x81202000, 0x078bfbff),
            new CpuidEntry(0x4, 0, 1, 0x00000121, 0, 0, 0),        // L1 data cache, level 1
            new CpuidEntry(0x4, 1, 1, 0x00000163, 0, 0, 0),        // L3 unified cache, level 3
            new CpuidEntry(0x4, 2, 1, 0, 0, 0, 0),                 // no more caches
            new CpuidEntry(0xB, 0, 1, 0, 0, 0, 1),
            new CpuidEntry(0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d), // KVM's own leaves
            new CpuidEntry(0x40000001, 0, 0, 0x1, 0, 0, 0));

    private static CpuidEntry leaf(List<CpuidEntry> table, int function, int index) {
        return table.stream().filter(e -> e.function() == function && e.index() == index).findFirst().orElseThrow();
    }

    @Test
    void apicIdAndTopologyLeavesDescribeTheSlot() {
        Slot slot = new Slot(1, 0, 2, 1); // APIC ID 1 << 3 | 2 << 1 | 1 = 13
        int apicId = HOLEY.apicIdOf(slot);
        assertEquals(13, apicId);
        List<CpuidEntry> table = GuestCpuid.forVcpu(SUPPORTED, HOLEY, slot, apicId, false, 16);

        assertEquals(0x1F, leaf(table, 0x0, 0).eax(), "max basic leaf raised to reach 0x1F");
        CpuidEntry features = leaf(table, 0x1, 0);
        assertEquals(13, features.ebx() >>> 24);
        assertEquals(8, (features.ebx() >>> 16) & 0xFF, "addressable logical IDs per package: 1 << 3");
        assertEquals(0x0800, features.ebx() & 0xFFFF, "the rest of EBX kept");
        assertTrue((features.edx() & 1 << 28) != 0, "HTT");

        assertEquals(3, leaf(table, 0x4, 0).eax() >>> 26, "4 addressable core IDs per package - 1");
        assertEquals(1, (leaf(table, 0x4, 0).eax() >>> 14) & 0xFFF, "L1 shared by the 2 threads of a core");
        assertEquals(7, (leaf(table, 0x4, 1).eax() >>> 14) & 0xFFF, "L3 shared by the package");
        assertEquals(0, leaf(table, 0x4, 2).eax(), "the terminating descriptor stays empty");

        assertEquals(new CpuidEntry(0xB, 0, 1, 1, 2, 1 << 8, 13), leaf(table, 0xB, 0), "SMT level");
        assertEquals(new CpuidEntry(0xB, 1, 1, 3, 6, 2 << 8 | 1, 13), leaf(table, 0xB, 1), "core level");
        assertEquals(new CpuidEntry(0xB, 2, 1, 0, 0, 2, 13), leaf(table, 0xB, 2), "end of levels");
        assertEquals(new CpuidEntry(0x1F, 1, 1, 3, 6, 2 << 8 | 1, 13), leaf(table, 0x1F, 1), "core level");
        assertEquals(new CpuidEntry(0x1F, 2, 1, 3, 6, 5 << 8 | 2, 13), leaf(table, 0x1F, 2), "die level");
        assertEquals(new CpuidEntry(0x1F, 3, 1, 0, 0, 3, 13), leaf(table, 0x1F, 3), "end of levels");
    }

    @Test
    void hypervOffLeavesNoHypervisorLeafAtAll() {
        List<CpuidEntry> table = GuestCpuid.forVcpu(SUPPORTED, HOLEY, HOLEY.slotAt(0), 0, false, 16);
        assertFalse(table.stream().anyMatch(e -> GuestCpuid.isHypervisorLeaf(e.function())), table.toString());
    }

    @Test
    void hypervOnAdvertisesExactlyAccessVpIndexAndTheMaximumVpCount() {
        List<CpuidEntry> table = GuestCpuid.forVcpu(SUPPORTED, HOLEY, HOLEY.slotAt(0), 0, true, 14);
        assertEquals(new CpuidEntry(0x40000000, 0, 0, 0x40000005, 0x7263694D, 0x666F736F, 0x76482074),
                leaf(table, 0x40000000, 0), "max leaf and \"Microsoft Hv\"");
        assertEquals(0x31237648, leaf(table, 0x40000001, 0).eax(), "\"Hv#1\"");
        assertEquals(new CpuidEntry(0x40000003, 0, 0, 1 << 6, 0, 0, 0), leaf(table, 0x40000003, 0));
        assertEquals(14, leaf(table, 0x40000005, 0).eax());
        assertEquals(6, table.stream().filter(e -> GuestCpuid.isHypervisorLeaf(e.function())).count(),
                "only 0x40000000-0x40000005; KVM's own leaves are gone");
    }

    @Test
    void theMaximumVpCountCoversEveryPolicyOfTheTopology() {
        VmSpec spec = VmSpec.probe(2, HOLEY, VirtualMachineIdentityTest.boot(HOLEY,
                io.quarkvm.domain.VpIndexPolicy.APIC_ID, 2), true, io.quarkvm.domain.VpIndexProvider.USERSPACE_MSR);
        assertEquals(14, spec.maxVps(), "largest APIC ID 13 + 1 > 12 slots");
    }
}
