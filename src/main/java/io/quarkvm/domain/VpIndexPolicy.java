package io.quarkvm.domain;

import java.util.Optional;

/** Which number a vCPU's Hyper-V VP index is; chosen by the machine type and fixed for the VM's life. */
public enum VpIndexPolicy {
    /** Creation order: what kernels without a settable VP index answer implicitly. */
    CPU_INDEX,
    /** The APIC ID: stable under any creation order, sparse for non-power-of-two counts. */
    APIC_ID,
    /** The slot's topology index: stable under any creation order and dense (upstream QEMU's choice). */
    SLOT_INDEX;

    public int vpIndexOf(Topology topology, Slot slot, int cpuIndex) {
        return switch (this) {
            case CPU_INDEX -> cpuIndex;
            case APIC_ID -> topology.apicIdOf(slot);
            case SLOT_INDEX -> topology.slotIndexOf(slot);
        };
    }

    /**
     * The slot this policy gives {@code vpIndex}, where the VP index does not depend on creation order (so a slot
     * that has never been plugged can be named by it); empty for CPU_INDEX and for a VP index no slot has.
     */
    public Optional<Slot> slotWithVpIndex(Topology topology, int vpIndex) {
        return switch (this) {
            case SLOT_INDEX -> vpIndex >= 0 && vpIndex < topology.maxVcpus()
                    ? Optional.of(topology.slotAt(vpIndex)) : Optional.empty();
            case APIC_ID -> topology.slotOfApicId(vpIndex);
            case CPU_INDEX -> Optional.empty();
        };
    }

    /** The largest VP index a VM of this topology can ever have under this policy, once every slot is plugged. */
    public int largestVpIndex(Topology topology) {
        return switch (this) {
            case CPU_INDEX, SLOT_INDEX -> topology.maxVcpus() - 1;
            case APIC_ID -> topology.apicIdOf(topology.slotAt(topology.maxVcpus() - 1));
        };
    }
}
