package io.quarkvm.persistence;

import com.fasterxml.jackson.annotation.JsonInclude;

import java.time.Instant;
import java.util.UUID;

/**
 * Something that happened to a VM, as GET /api/v1/events streams it: {@code phase} (the node observed a new phase),
 * {@code desired} (a client asked for a state), {@code vcpu-plugged}, {@code vcpu-unplugged}, {@code created},
 * {@code deleted}. Only committed changes are announced: the event is logged in the change's transaction.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record VmEvent(String type, UUID vmId, String vmName, Instant at, String phase, String desiredState,
                      String node, Long version, String lastError, Integer cpuIndex, Integer apicId, Integer vpIndex) {

    /** Every event is kept in the log and sent to every subscriber: it carries the start of an error, the VM all of it. */
    private static final int MAX_ERROR_LENGTH = 1000;

    public static VmEvent ofVm(String type, VmEntity vm) {
        String error = vm.lastError == null || vm.lastError.length() <= MAX_ERROR_LENGTH ? vm.lastError
                : vm.lastError.substring(0, MAX_ERROR_LENGTH) + "…";
        return new VmEvent(type, vm.id, vm.name, Instant.now(), vm.phase.name(), vm.desiredState.name(), vm.node,
                vm.version, error, null, null, null);
    }

    public VmEvent withVersion(long committedVersion) {
        return new VmEvent(type, vmId, vmName, at, phase, desiredState, node, committedVersion, lastError, cpuIndex,
                apicId, vpIndex);
    }

    public static VmEvent ofVcpu(String type, VmEntity vm, VcpuEntity vcpu) {
        return new VmEvent(type, vm.id, vm.name, Instant.now(), null, null, vm.node, vm.version, null,
                vcpu.cpuIndex, vcpu.apicId, vcpu.vpIndex);
    }
}
