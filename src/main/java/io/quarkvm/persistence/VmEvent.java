package io.quarkvm.persistence;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.quarkvm.domain.Migration;

import java.time.Instant;
import java.util.UUID;

/**
 * Something that happened to a VM, as GET /api/v1/events streams it: {@code phase} (the node observed a new phase),
 * {@code desired} (a client asked for a state), {@code vcpu-plugged}, {@code vcpu-unplugged}, {@code created},
 * {@code deleted}, {@code migration} (a live migration of the VM was requested, changed phase or finished a
 * pre-copy round: {@code migration} is the migration as GET /api/v1/migrations/{id} shows it, beside the VM's phase
 * and node). Only committed changes are announced: the event is logged in the change's transaction.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record VmEvent(String type, UUID vmId, String vmName, Instant at, String phase, String desiredState,
                      String node, Long version, String lastError, Integer cpuIndex, Integer apicId, Integer vpIndex,
                      Migration migration) {

    /** Every event is kept in the log and sent to every subscriber: it carries the start of an error, the VM all of it. */
    private static final int MAX_ERROR_LENGTH = 1000;

    public static VmEvent ofVm(String type, VmEntity vm) {
        String error = vm.lastError == null || vm.lastError.length() <= MAX_ERROR_LENGTH ? vm.lastError
                : vm.lastError.substring(0, MAX_ERROR_LENGTH) + "…";
        return new VmEvent(type, vm.id, vm.name, Instant.now(), vm.phase.name(), vm.desiredState.name(), vm.node,
                vm.version, error, null, null, null, null);
    }

    public VmEvent withVersion(long committedVersion) {
        return new VmEvent(type, vmId, vmName, at, phase, desiredState, node, committedVersion, lastError, cpuIndex,
                apicId, vpIndex, migration);
    }

    public static VmEvent ofVcpu(String type, VmEntity vm, VcpuEntity vcpu) {
        return new VmEvent(type, vm.id, vm.name, Instant.now(), null, null, vm.node, vm.version, null,
                vcpu.cpuIndex, vcpu.apicId, vcpu.vpIndex, null);
    }

    /** The migration as it now is, with the VM's phase and node (which the migration may have just changed). */
    public static VmEvent ofMigration(VmEntity vm, Migration migration) {
        return new VmEvent("migration", vm.id, vm.name, Instant.now(), vm.phase.name(), vm.desiredState.name(), vm.node,
                vm.version, null, null, null, null, migration);
    }
}
