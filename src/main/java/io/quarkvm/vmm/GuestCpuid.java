package io.quarkvm.vmm;

import io.quarkvm.domain.Slot;
import io.quarkvm.domain.Topology;
import io.quarkvm.kvm.CpuidEntry;
import java.util.ArrayList;
import java.util.List;

/**
 * One vCPU's CPUID table: what KVM supports on this host, with the topology leaves filled so the guest decodes the
 * VM's topology and the vCPU's APIC ID, the hypervisor range replaced by the Hyper-V leaves (or by nothing).
 */
final class GuestCpuid {

    static final int LEAF_MAX_BASIC = 0x0;
    static final int LEAF_FEATURES = 0x1;
    static final int LEAF_CACHE_PARAMETERS = 0x4;
    static final int LEAF_TOPOLOGY = 0xB;
    static final int LEAF_TOPOLOGY_V2 = 0x1F;
    static final int LEAF_AMD_TOPOLOGY = 0x8000001E;
    static final int HYPERVISOR_RANGE_FIRST = 0x40000000;
    static final int HYPERVISOR_RANGE_LAST = 0x4FFFFFFF;

    static final int HV_MAX_LEAF = 0x40000005;
    static final int HV_INTERFACE = 0x40000001;
    static final int HV_VERSION = 0x40000002;
    static final int HV_FEATURES = 0x40000003;
    static final int HV_ENLIGHTENMENTS = 0x40000004;
    static final int HV_IMPLEMENTATION_LIMITS = 0x40000005;
    /** "Hv#1": the Hyper-V interface signature in 0x40000001 EAX. */
    static final int HV_INTERFACE_SIGNATURE = 0x31237648;

    /** CPUID 0xB/0x1F ECX[15:8] level types. */
    private static final int LEVEL_INVALID = 0;
    private static final int LEVEL_SMT = 1;
    private static final int LEVEL_CORE = 2;
    private static final int LEVEL_DIE = 5;
    /** CPUID 0x1 EDX bit 28: more than one logical processor per package (HTT). */
    private static final int HTT = 1 << 28;

    private GuestCpuid() {
    }

    /**
     * @param maxVps the maximum VP count advertised in 0x40000005 EAX when {@code hypervVpIndex}
     */
    static List<CpuidEntry> forVcpu(List<CpuidEntry> supported, Topology topology, Slot slot, int apicId,
                                    boolean hypervVpIndex, int maxVps) {
        List<CpuidEntry> table = new ArrayList<>();
        for (CpuidEntry entry : supported) {
            int leaf = entry.function();
            if (leaf == LEAF_TOPOLOGY || leaf == LEAF_TOPOLOGY_V2 || isHypervisorLeaf(leaf)) {
                continue; // rebuilt below
            }
            table.add(switch (leaf) {
                case LEAF_MAX_BASIC -> entry.withRegisters(Math.max(entry.eax(), LEAF_TOPOLOGY_V2),
                        entry.ebx(), entry.ecx(), entry.edx());
                case LEAF_FEATURES -> features(entry, topology, apicId);
                case LEAF_CACHE_PARAMETERS -> cacheParameters(entry, topology);
                case LEAF_AMD_TOPOLOGY -> entry.withRegisters(apicId,
                        (topology.threads() - 1) << 8 | (apicId >>> topology.smtShift()) & 0xFF,
                        slot.socket(), entry.edx());
                default -> entry;
            });
        }
        table.addAll(topologyLeaf(LEAF_TOPOLOGY, topology, apicId, false));
        table.addAll(topologyLeaf(LEAF_TOPOLOGY_V2, topology, apicId, true));
        if (hypervVpIndex) {
            table.addAll(hypervLeaves(maxVps));
        }
        return table;
    }

    static boolean isHypervisorLeaf(int leaf) {
        return Integer.compareUnsigned(leaf, HYPERVISOR_RANGE_FIRST) >= 0
                && Integer.compareUnsigned(leaf, HYPERVISOR_RANGE_LAST) <= 0;
    }

    /** 0x1: EBX[31:24] initial APIC ID (its low 8 bits), EBX[23:16] addressable logical IDs per package, HTT. */
    private static CpuidEntry features(CpuidEntry entry, Topology topology, int apicId) {
        int logicalPerPackage = Math.min(1 << topology.packageShift(), 0xFF);
        int ebx = (entry.ebx() & 0x0000FFFF) | (apicId & 0xFF) << 24 | logicalPerPackage << 16;
        int edx = topology.maxVcpus() / topology.sockets() > 1 ? entry.edx() | HTT : entry.edx() & ~HTT;
        return entry.withRegisters(entry.eax(), ebx, entry.ecx(), edx);
    }

    /**
     * 0x4 (a cache descriptor, when the host has them: Intel): EAX[31:26] addressable core IDs per package - 1,
     * EAX[25:14] addressable logical IDs sharing the cache - 1 (a core's for L1/L2, the package's for L3).
     */
    private static CpuidEntry cacheParameters(CpuidEntry entry, Topology topology) {
        int cacheType = entry.eax() & 0x1F;
        if (cacheType == 0) {
            return entry; // "no more caches": the guest reads nothing else from it
        }
        int level = (entry.eax() >>> 5) & 0x7;
        int coresPerPackage = 1 << (topology.packageShift() - topology.smtShift());
        int sharing = level <= 2 ? 1 << topology.smtShift() : 1 << topology.packageShift();
        int eax = (entry.eax() & 0x3FFF) | ((coresPerPackage - 1) & 0x3F) << 26 | ((sharing - 1) & 0xFFF) << 14;
        return entry.withRegisters(eax, entry.ebx(), entry.ecx(), entry.edx());
    }

    /**
     * 0xB (SMT, core) or 0x1F (SMT, core, die): per sub-leaf EAX[4:0] = shift to the next level's ID, EBX[15:0] =
     * logical processors at this level, ECX = level type << 8 | level number, EDX = x2APIC ID; then one invalid
     * sub-leaf that ends the list.
     */
    private static List<CpuidEntry> topologyLeaf(int leaf, Topology topology, int apicId, boolean withDie) {
        int threads = topology.threads();
        int perDie = threads * topology.cores();
        int perPackage = perDie * topology.dies();
        List<int[]> levels = new ArrayList<>(); // {type, shift, logical processors}
        levels.add(new int[] {LEVEL_SMT, topology.smtShift(), threads});
        if (withDie) {
            levels.add(new int[] {LEVEL_CORE, topology.coreShift(), perDie});
            levels.add(new int[] {LEVEL_DIE, topology.packageShift(), perPackage});
        } else {
            levels.add(new int[] {LEVEL_CORE, topology.packageShift(), perPackage});
        }
        List<CpuidEntry> entries = new ArrayList<>();
        for (int i = 0; i < levels.size(); i++) {
            int[] level = levels.get(i);
            entries.add(new CpuidEntry(leaf, i, CpuidEntry.FLAG_SIGNIFICANT_INDEX,
                    level[1], level[2] & 0xFFFF, level[0] << 8 | i, apicId));
        }
        entries.add(new CpuidEntry(leaf, levels.size(), CpuidEntry.FLAG_SIGNIFICANT_INDEX,
                0, 0, LEVEL_INVALID << 8 | levels.size(), apicId));
        return entries;
    }

    /**
     * What a Hyper-V guest checks before reading HV_X64_MSR_VP_INDEX, and nothing the node cannot back: the vendor
     * and max leaf, the "Hv#1" interface, AccessVpIndex alone among the privileges, the maximum VP count.
     */
    private static List<CpuidEntry> hypervLeaves(int maxVps) {
        return List.of(
                new CpuidEntry(HYPERVISOR_RANGE_FIRST, 0, 0, HV_MAX_LEAF,
                        GuestProbe.HV_VENDOR_EBX, GuestProbe.HV_VENDOR_ECX, GuestProbe.HV_VENDOR_EDX),
                new CpuidEntry(HV_INTERFACE, 0, 0, HV_INTERFACE_SIGNATURE, 0, 0, 0),
                new CpuidEntry(HV_VERSION, 0, 0, 0, 0, 0, 0),
                new CpuidEntry(HV_FEATURES, 0, 0, GuestProbe.HV_ACCESS_VP_INDEX, 0, 0, 0),
                new CpuidEntry(HV_ENLIGHTENMENTS, 0, 0, 0, 0, 0, 0),
                new CpuidEntry(HV_IMPLEMENTATION_LIMITS, 0, 0, maxVps, 0, 0, 0));
    }
}
