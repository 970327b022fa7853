package io.quarkvm.domain;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The rules for a VM's vCPU identities over its life: boot vCPUs take cpu_index 0.. in topology order, a slot
 * plugged for the first time takes the next cpu_index, a replugged slot gets its old identity back, and nothing is
 * ever recomputed for a slot that already has an identity.
 */
public final class VcpuPlugRules {

    private VcpuPlugRules() {
    }

    /**
     * While a migration hands the VM over, its set of vCPUs is what the source captures and the target rebuilds:
     * neither plug nor unplug may change it then.
     */
    public static void requireNoHandover(String vmName, VmPhase phase) {
        if (phase.isHandover()) {
            throw new ConflictException("VM " + vmName + " is " + phase + ": its vCPUs cannot be plugged or unplugged "
                    + "while a migration hands it over; wait until the migration has ended, or cancel it");
        }
    }

    /** The identities of the first {@code vcpus} slots in topology order, as cpu_index 0 .. vcpus-1. */
    public static List<VcpuIdentity> bootIdentities(Topology topology, VpIndexPolicy policy, int vcpus) {
        List<VcpuIdentity> identities = new ArrayList<>(vcpus);
        for (int cpuIndex = 0; cpuIndex < vcpus; cpuIndex++) {
            identities.add(VcpuIdentity.assign(topology, policy, topology.slotAt(cpuIndex), cpuIndex));
        }
        return identities;
    }

    /**
     * The identity a slot gets when plugged now: its old one if it was ever plugged, else a new one with the next
     * cpu_index. An occupied slot is a conflict; a slot outside the topology is invalid.
     */
    public static VcpuIdentity identityToPlug(Topology topology, VpIndexPolicy policy, List<PluggedVcpu> known, Slot slot) {
        topology.requireSlot(slot);
        Optional<PluggedVcpu> previous = known.stream().filter(v -> v.identity().slot().equals(slot)).findFirst();
        if (previous.isPresent()) {
            if (previous.get().plugged()) {
                throw new ConflictException("slot (" + slot + ") is already plugged as APIC ID "
                        + previous.get().identity().apicId());
            }
            return previous.get().identity();
        }
        int nextCpuIndex = known.stream().mapToInt(v -> v.identity().cpuIndex()).max().orElse(-1) + 1;
        return VcpuIdentity.assign(topology, policy, slot, nextCpuIndex);
    }

    /**
     * Checks that the vCPU with this APIC ID may be unplugged and returns it. Unplugging a slot that is already
     * unplugged changes nothing; the boot vCPU (cpu_index 0) stays, as on real hardware and in QEMU.
     */
    public static Optional<PluggedVcpu> vcpuToUnplug(List<PluggedVcpu> known, int apicId) {
        Optional<PluggedVcpu> vcpu = known.stream().filter(v -> v.identity().apicId() == apicId).findFirst();
        vcpu.filter(v -> v.identity().cpuIndex() == 0 && v.plugged()).ifPresent(v -> {
            throw new ConflictException("APIC ID " + apicId + " is the boot vCPU (cpu_index 0); it cannot be unplugged");
        });
        return vcpu;
    }
}
