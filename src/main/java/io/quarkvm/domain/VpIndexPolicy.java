package io.quarkvm.domain;

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

    /** True when a vCPU's VP index does not depend on the order vCPUs were created in. */
    public boolean survivesOutOfOrderCreation() {
        return this != CPU_INDEX;
    }
}
