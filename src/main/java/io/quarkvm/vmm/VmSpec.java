package io.quarkvm.vmm;

import io.quarkvm.domain.Topology;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VpIndexProvider;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What to run: the identities are the persisted ones (never derived here), {@code vcpus} those plugged at boot.
 *
 * @param hypervVpIndex advertise Hyper-V with AccessVpIndex and serve HV_X64_MSR_VP_INDEX
 * @param vpIndexProvider how this node serves the VP index; only {@link VpIndexProvider#USERSPACE_MSR} runs yet
 */
public record VmSpec(int memoryMiB, Topology topology, List<VcpuIdentity> vcpus, boolean hypervVpIndex,
                     VpIndexProvider vpIndexProvider, GuestProgram program) {

    public VmSpec {
        if (memoryMiB < 2 || memoryMiB % 2 != 0) {
            throw new IllegalArgumentException("memoryMiB must be even and at least 2, was " + memoryMiB);
        }
        if (vcpus.isEmpty()) {
            throw new IllegalArgumentException("a VM needs at least one vCPU");
        }
        vcpus = List.copyOf(vcpus);
        Set<Integer> cpuIndexes = new HashSet<>();
        Set<Integer> apicIds = new HashSet<>();
        Set<Integer> vpIndexes = new HashSet<>();
        for (VcpuIdentity vcpu : vcpus) {
            requireConsistent(topology, vcpu);
            if (!cpuIndexes.add(vcpu.cpuIndex()) || !apicIds.add(vcpu.apicId()) || !vpIndexes.add(vcpu.vpIndex())) {
                throw new IllegalArgumentException("duplicate cpu_index, APIC ID or VP index: " + vcpu);
            }
        }
    }

    /** The built-in probe guest with these identities. */
    public static VmSpec probe(int memoryMiB, Topology topology, List<VcpuIdentity> vcpus, boolean hypervVpIndex,
                               VpIndexProvider vpIndexProvider) {
        return new VmSpec(memoryMiB, topology, vcpus, hypervVpIndex, vpIndexProvider, GuestProgram.probe());
    }

    /** An identity must lie in the topology, carry its slot's APIC ID and fit the guest's record area. */
    static void requireConsistent(Topology topology, VcpuIdentity vcpu) {
        if (topology.apicIdOf(vcpu.slot()) != vcpu.apicId()) {
            throw new IllegalArgumentException("APIC ID " + vcpu.apicId() + " is not that of slot (" + vcpu.slot()
                    + "): " + topology.apicIdOf(vcpu.slot()));
        }
        if (vcpu.cpuIndex() < 0 || vcpu.cpuIndex() >= Math.min(topology.maxVcpus(), GuestLayout.MAX_VCPUS)) {
            throw new IllegalArgumentException("cpu_index " + vcpu.cpuIndex() + " outside 0.." + (topology.maxVcpus() - 1));
        }
        if (vcpu.vpIndex() < 0) {
            throw new IllegalArgumentException("negative VP index: " + vcpu);
        }
    }

    /** What 0x40000005 EAX advertises: enough VPs for any VP index any policy gives a slot of this topology. */
    int maxVps() {
        int largestApicId = topology.apicIdOf(topology.slotAt(topology.maxVcpus() - 1));
        int largestVpIndex = vcpus.stream().mapToInt(VcpuIdentity::vpIndex).max().orElse(0);
        return Math.max(topology.maxVcpus(), Math.max(largestApicId, largestVpIndex) + 1);
    }
}
