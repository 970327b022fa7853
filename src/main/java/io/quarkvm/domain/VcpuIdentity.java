package io.quarkvm.domain;

/**
 * What a guest sees of one vCPU: written once, when its slot is first plugged, and read back from then on.
 *
 * @param cpuIndex creation order within the VM, never reused for another slot
 * @param apicId   from the slot by the x86 topology rule
 * @param vpIndex  the Hyper-V VP index, by the VM's {@link VpIndexPolicy}
 */
public record VcpuIdentity(Slot slot, int cpuIndex, int apicId, int vpIndex) {

    /** Computes the identity of a slot plugged for the first time as creation number {@code cpuIndex}. */
    public static VcpuIdentity assign(Topology topology, VpIndexPolicy policy, Slot slot, int cpuIndex) {
        return new VcpuIdentity(slot, cpuIndex, topology.apicIdOf(slot), policy.vpIndexOf(topology, slot, cpuIndex));
    }
}
