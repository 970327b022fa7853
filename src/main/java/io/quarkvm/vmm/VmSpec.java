package io.quarkvm.vmm;

import io.quarkvm.domain.Topology;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VpIndexPolicy;
import io.quarkvm.domain.VpIndexProvider;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What to run: the identities are the persisted ones (never derived here), {@code vcpus} those plugged at boot.
 *
 * @param hypervVpIndex   advertise Hyper-V with AccessVpIndex and make HV_X64_MSR_VP_INDEX read the VP index
 * @param vpIndexProvider how this node serves the VP index
 * @param knownVcpus      every identity the VM has, plugged or not (contains {@code vcpus}): under
 *                        {@link VpIndexProvider#KERNEL_IMPLICIT} the unplugged ones below the largest VP index are
 *                        created parked, so that the kernel's creation order gives every vCPU its VP index
 * @param vpIndexPolicy   the VM's policy, when known: under {@code KERNEL_IMPLICIT} with {@link VpIndexPolicy#SLOT_INDEX}
 *                        (or {@link VpIndexPolicy#APIC_ID} on a topology with dense APIC IDs) it lets the VMM derive
 *                        a parked vCPU for a slot that has no identity yet (its APIC ID from the topology, its VP
 *                        index from the policy); every known identity must follow it
 */
public record VmSpec(int memoryMiB, Topology topology, List<VcpuIdentity> vcpus, boolean hypervVpIndex,
                     VpIndexProvider vpIndexProvider, GuestProgram program, List<VcpuIdentity> knownVcpus,
                     Optional<VpIndexPolicy> vpIndexPolicy) {

    public VmSpec {
        if (memoryMiB < 2 || memoryMiB % 2 != 0) {
            throw new IllegalArgumentException("memoryMiB must be even and at least 2, was " + memoryMiB);
        }
        if (vcpus.isEmpty()) {
            throw new IllegalArgumentException("a VM needs at least one vCPU");
        }
        vcpus = List.copyOf(vcpus);
        knownVcpus = List.copyOf(knownVcpus);
        if (!knownVcpus.containsAll(vcpus)) {
            throw new IllegalArgumentException("the known identities must include every plugged one");
        }
        Set<Integer> cpuIndexes = new HashSet<>();
        Set<Integer> apicIds = new HashSet<>();
        Set<Integer> vpIndexes = new HashSet<>();
        for (VcpuIdentity vcpu : knownVcpus) {
            requireConsistent(topology, vcpu);
            if (!cpuIndexes.add(vcpu.cpuIndex()) || !apicIds.add(vcpu.apicId()) || !vpIndexes.add(vcpu.vpIndex())) {
                throw new IllegalArgumentException("duplicate cpu_index, APIC ID or VP index: " + vcpu);
            }
            if (vpIndexPolicy.isPresent()
                    && vpIndexPolicy.get().vpIndexOf(topology, vcpu.slot(), vcpu.cpuIndex()) != vcpu.vpIndex()) {
                throw new IllegalArgumentException(vcpu + " does not follow VP index policy " + vpIndexPolicy.get());
            }
        }
    }

    /** Only the plugged identities are known, and no policy: what a VM whose every slot is plugged needs. */
    public VmSpec(int memoryMiB, Topology topology, List<VcpuIdentity> vcpus, boolean hypervVpIndex,
                  VpIndexProvider vpIndexProvider, GuestProgram program) {
        this(memoryMiB, topology, vcpus, hypervVpIndex, vpIndexProvider, program, vcpus, Optional.empty());
    }

    /** The built-in probe guest with these identities. */
    public static VmSpec probe(int memoryMiB, Topology topology, List<VcpuIdentity> vcpus, boolean hypervVpIndex,
                               VpIndexProvider vpIndexProvider) {
        return new VmSpec(memoryMiB, topology, vcpus, hypervVpIndex, vpIndexProvider, GuestProgram.probe());
    }

    /** This spec with every identity the VM has (plugged or not) and its VP index policy. */
    public VmSpec withKnownVcpus(List<VcpuIdentity> known, VpIndexPolicy policy) {
        return new VmSpec(memoryMiB, topology, vcpus, hypervVpIndex, vpIndexProvider, program, known,
                Optional.of(policy));
    }

    /** The guest's RAM in bytes. */
    public long memoryBytes() {
        return (long) memoryMiB << 20;
    }

    /**
     * This spec with exactly {@code plugged} as the vCPUs plugged at boot: what a VM that continues another's (a
     * restore, an incoming migration) needs, whose plugged vCPUs are the other's.
     *
     * @throws IdentityMismatchException one of them is not among this spec's known (persisted) identities
     */
    public VmSpec withPlugged(List<VcpuIdentity> plugged) {
        for (VcpuIdentity carried : plugged) {
            VcpuIdentity persisted = knownVcpus.stream().filter(known -> known.apicId() == carried.apicId())
                    .findFirst().orElseThrow(() -> new IdentityMismatchException("vCPU " + carried
                            + " has no persisted identity with its APIC ID"));
            if (!persisted.equals(carried)) {
                throw new IdentityMismatchException("vCPU " + carried + " differs from its persisted identity "
                        + persisted);
            }
        }
        return new VmSpec(memoryMiB, topology, plugged, hypervVpIndex, vpIndexProvider, program, knownVcpus,
                vpIndexPolicy);
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

    /**
     * What 0x40000005 EAX advertises: enough VPs for every VP index the VM's policy can ever give a slot (kept
     * dense for SLOT_INDEX, as a Hyper-V guest sizes per-VP tables by it); without a policy, enough for any.
     */
    int maxVps() {
        int largestKnown = knownVcpus.stream().mapToInt(VcpuIdentity::vpIndex).max().orElse(0);
        int largestPossible = vpIndexPolicy.map(policy -> policy.largestVpIndex(topology))
                .orElseGet(() -> Math.max(topology.maxVcpus() - 1, topology.apicIdOf(topology.slotAt(topology.maxVcpus() - 1))));
        return Math.max(largestPossible, largestKnown) + 1;
    }
}
