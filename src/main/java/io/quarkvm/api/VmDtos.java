package io.quarkvm.api;

import io.quarkvm.domain.MachineType;
import io.quarkvm.persistence.VcpuEntity;
import io.quarkvm.persistence.VmEntity;

import java.util.List;
import java.util.UUID;

/** The JSON shapes of /api/v1/vms (ARCHITECTURE.md §5), and the one mapping from entities to them. */
public final class VmDtos {

    private VmDtos() {
    }

    /** Counts arrive as Long so that an absurd number is reported as such instead of overflowing. */
    public record TopologyRequest(Long sockets, Long dies, Long cores, Long threads) {
    }

    public record HypervRequest(Boolean vpindex) {
    }

    public record GuestRequest(String kind) {
    }

    public record CreateVmRequest(String name, String machineType, TopologyRequest topology, Long vcpus,
                                  Long memoryMiB, HypervRequest hyperv, GuestRequest guest) {
    }

    public record SlotRequest(Long socket, Long die, Long core, Long thread) {
    }

    public record TopologyView(int sockets, int dies, int cores, int threads) {
    }

    public record HypervView(boolean vpindex) {
    }

    public record GuestView(String kind) {
    }

    public record VcpuView(int cpuIndex, int apicId, int vpIndex, int socket, int die, int core, int thread,
                           boolean plugged) {
        static VcpuView of(VcpuEntity vcpu) {
            return new VcpuView(vcpu.cpuIndex, vcpu.apicId, vcpu.vpIndex, vcpu.socket, vcpu.die, vcpu.core,
                    vcpu.thread, vcpu.plugged);
        }
    }

    public record VmView(UUID id, String name, String machineType, String vpIndexPolicy, TopologyView topology,
                         int maxVcpus, List<VcpuView> vcpus, int memoryMiB, HypervView hyperv, GuestView guest,
                         String desiredState, String phase, String node, String lastError, CrashesView crashes,
                         long version) {
        static VmView of(VmEntity vm) {
            return new VmView(vm.id, vm.name, vm.machineType, vm.vpIndexPolicy().name(),
                    new TopologyView(vm.sockets, vm.dies, vm.cores, vm.threads), vm.topology().maxVcpus(),
                    vm.vcpus.stream().map(VcpuView::of).toList(), vm.memoryMib, new HypervView(vm.hypervVpIndex),
                    new GuestView(vm.guestKind), vm.desiredState.name(), vm.phase.name(), vm.node, vm.lastError,
                    new CrashesView(vm.crashCount, vm.restartNotBefore), vm.version);
        }
    }

    /** Crashes in a row, and when the node may restart the VM next (null when it is not waiting to). */
    public record CrashesView(int inARow, java.time.Instant restartNotBefore) {
    }

    public record VmPageView(List<VmView> items, long total, int page, int size) {
    }

    public record MachineTypeView(String name, String vpIndexPolicy, String description, List<String> aliases) {
        static MachineTypeView of(MachineType type) {
            return new MachineTypeView(type.typeName(), type.vpIndexPolicy().name(), type.description(),
                    type == MachineType.LATEST ? List.of(MachineType.LATEST_ALIAS) : List.of());
        }
    }

    public record MachineTypesView(List<MachineTypeView> items) {
    }
}
