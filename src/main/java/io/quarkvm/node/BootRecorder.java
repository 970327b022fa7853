package io.quarkvm.node;

import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkvm.domain.HypervisorKind;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.persistence.GuestBootEntity;
import io.quarkvm.persistence.GuestVcpuObservationEntity;
import io.quarkvm.vmm.GuestIdentity;
import io.quarkvm.vmm.ProbeRecord;
import jakarta.enterprise.context.ApplicationScoped;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** Writes each boot of a VM and what its guest observed, each call in its own short transaction. */
@ApplicationScoped
public class BootRecorder {

    /**
     * Opens a new boot with a row per vCPU about to run, residing on {@code node}; returns its id. Joins the caller's
     * transaction when there is one (the reconciler records STARTING in the same one).
     */
    public long openBoot(UUID vmId, String node, HypervisorKind hypervisor, VpIndexProvider provider,
                         List<VcpuIdentity> vcpus) {
        return QuarkusTransaction.joiningExisting().call(() -> {
            GuestBootEntity boot = new GuestBootEntity();
            boot.vmId = vmId;
            boot.boot = GuestBootEntity.nextBootNumber(vmId);
            boot.startedAt = Instant.now();
            boot.openOn(node, hypervisor, provider, boot.startedAt);
            vcpus.forEach(identity -> boot.vcpus.add(observationRow(boot, identity)));
            boot.persist();
            return boot.id;
        });
    }

    /** A vCPU hot-plugged during the boot gets its own row (a replugged one keeps its row and counters). */
    public void addVcpu(long bootId, VcpuIdentity identity) {
        QuarkusTransaction.requiringNew().run(() -> {
            GuestBootEntity boot = GuestBootEntity.findById(bootId);
            if (boot.vcpu(identity.cpuIndex()).isEmpty()) {
                boot.vcpus.add(observationRow(boot, identity));
            }
        });
    }

    /** What one vCPU's guest reported, and when it did. */
    public record Report(long bootId, GuestIdentity observed, Instant at) {
    }

    /** Reports that arrived together (a boot's vCPUs report within microseconds), in the caller's transaction. */
    public void recordReports(List<Report> reports) {
        QuarkusTransaction.joiningExisting().run(() -> reports.forEach(report -> {
            GuestIdentity observed = report.observed();
            GuestVcpuObservationEntity.update(
                    "reportedAt = ?1, observedApicIdLeaf1 = ?2, observedX2apicId = ?3, observedVpIndex = ?4, "
                            + "hypervLeavesFound = ?5, vpIndexWriteRefused = ?6 where boot.id = ?7 and cpuIndex = ?8",
                    report.at(), observed.apicIdLeaf1(), observed.x2ApicIdLeafB(),
                    observed.vpIndex() == GuestIdentity.NO_VP_INDEX ? null : (int) observed.vpIndex(),
                    observed.hypervFound(), observed.hypervFound() ? observed.wrmsrFaulted() : null,
                    report.bootId(), observed.cpuIndex());
        }));
    }

    /**
     * The probe's counters as read from guest memory, for every vCPU of a boot at once, while the boot runs on
     * {@code node} (a copy a migration left behind is not the boot any more).
     */
    public void recordCounters(long bootId, String node, Map<Integer, ProbeRecord> records) {
        QuarkusTransaction.requiringNew().run(() -> records.forEach((cpuIndex, record) ->
                GuestVcpuObservationEntity.update("heartbeats = ?1, violations = ?2 where boot.id = ?3 and cpuIndex = ?4 "
                                + "and boot.id in (select b.id from GuestBootEntity b where b.node = ?5)",
                        record.heartbeat(), (int) record.violations(), bootId, cpuIndex, node)));
    }

    /**
     * Ends the boot if it still runs on {@code node}: a boot a migration moved to another node goes on there, and
     * the node it left (stopping its paused copy) must not end it.
     */
    public void endBoot(long bootId, String node, String reason) {
        QuarkusTransaction.requiringNew().run(() ->
                GuestBootEntity.update("endedAt = ?1, endReason = ?2 where id = ?3 and node = ?4 and endedAt is null",
                        Instant.now(), reason, bootId, node));
    }

    /** Boots this node left open when it died: they ended then, whatever the guest was doing. */
    public void endBootsLeftOpen(String node, String reason) {
        QuarkusTransaction.requiringNew().run(() ->
                GuestBootEntity.update("endedAt = ?1, endReason = ?2 where node = ?3 and endedAt is null",
                        Instant.now(), reason, node));
    }

    private static GuestVcpuObservationEntity observationRow(GuestBootEntity boot, VcpuIdentity identity) {
        GuestVcpuObservationEntity row = new GuestVcpuObservationEntity();
        row.boot = boot;
        row.cpuIndex = identity.cpuIndex();
        row.apicId = identity.apicId();
        row.vpIndex = identity.vpIndex();
        return row;
    }
}
