package io.quarkvm.migration;

import io.quarkvm.config.QuarkvmConfig;
import io.quarkvm.domain.Migration;
import io.quarkvm.domain.MigrationPhase;
import io.quarkvm.domain.PlacementDecision;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.node.Arrival;
import io.quarkvm.node.LocalNode;
import io.quarkvm.node.MigrationStep;
import io.quarkvm.node.VmReconciler;
import io.quarkvm.persistence.VcpuEntity;
import io.quarkvm.persistence.VmEntity;
import io.quarkvm.service.MigrationRecords;
import io.quarkvm.vmm.VirtualMachine;
import io.quarkvm.vmm.VmSpec;
import jakarta.enterprise.context.ApplicationScoped;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The target's side of a migration (docs/MIGRATION.md): builds the VM from the stream, paused and never run, after
 * checking that this node is the migration's target and can honour the VM's VP index policy, and that the stream
 * carries exactly the VM's persisted identities; then commits the handover and resumes it. Whatever goes wrong
 * before the commit discards the copy and records the migration FAILED with the reason, so the source learns it
 * even if this answer never reaches it.
 */
@ApplicationScoped
public class MigrationTarget implements IncomingMigrations {

    private static final Logger LOG = Logger.getLogger(MigrationTarget.class);

    private final LocalNode node;
    private final VmReconciler reconciler;
    private final MigrationRecords records;
    private final QuarkvmConfig config;

    MigrationTarget(LocalNode node, VmReconciler reconciler, MigrationRecords records, QuarkvmConfig config) {
        this.node = node;
        this.reconciler = reconciler;
        this.records = records;
        this.config = config;
        MigrationStep.requireKnown(config.migration().haltAt());
    }

    @Override
    public Instant receive(UUID migrationId, InputStream stream) throws IOException {
        StepTimes steps = new StepTimes();
        MigrationRecords.Arriving arriving = records.arriving(migrationId).orElseThrow(() ->
                new MigrationRefusedException(409, "node " + node.name() + " knows no migration " + migrationId));
        Migration migration = arriving.migration();
        requireTargetHere(migration);
        VmEntity vm = arriving.vm().orElseThrow(() -> refused(migration, 409, "the VM was deleted"));
        long bootId = arriving.openBootId().orElseThrow(() -> refused(migration, 409,
                "the VM has no open boot to continue"));
        Arrival arrival = reconciler.arrival(migration.vmId(), bootId);
        steps.mark("find the migration, VM and boot");
        AtomicReference<VpIndexProvider> provider = new AtomicReference<>();
        VirtualMachine machine;
        try {
            machine = IncomingTransfer.receive(stream, header -> {
                if (!header.migrationId().equals(migrationId) || !header.vmId().equals(migration.vmId())) {
                    throw new MigrationRefusedException(422, "the stream is of migration " + header.migrationId()
                            + " of VM " + header.vmId() + ", not of migration " + migrationId + " of VM "
                            + migration.vmId());
                }
                Resolved resolved = resolve(vm, header.vcpus());
                provider.set(resolved.provider());
                return resolved.spec();
            }, node.hypervisor().orElseThrow(), arrival.listener(), steps);
        } catch (IOException | RuntimeException e) {
            String reason = "target node " + node.name() + " could not take the VM: " + e.getMessage();
            records.end(migrationId, MigrationPhase.FAILED, reason);
            throw e;
        }
        MigrationStep.TARGET_BEFORE_COMMIT.haltIfAt(config.migration().haltAt());
        // This node's reconciler takes the machine now, paused: it leaves a VM MIGRATING_OUT alone, and once the commit
        // has made it RUNNING here it finds it local (it must not cold-boot a second copy meanwhile).
        arrival.arrived(machine);
        steps.mark("hand to the reconciler");
        boolean committed;
        try {
            committed = records.completeOnTarget(migrationId, node.name(), node.hypervisorKind(), provider.get(),
                    bootId);
        } catch (RuntimeException e) {
            reconciler.leftByMigration(migration.vmId());
            throw e;
        }
        if (!committed) {
            reconciler.leftByMigration(migration.vmId());
            String why = records.find(migrationId).map(Migration::error).orElse("it is gone");
            throw new MigrationRefusedException(409, "the migration ended before node " + node.name()
                    + " could take the VM over: " + why);
        }
        steps.mark("commit");
        MigrationStep.TARGET_AFTER_COMMIT.haltIfAt(config.migration().haltAt());
        machine.resume();
        Instant resumedAt = Instant.now();
        steps.mark("resume");
        LOG.infof("migration %s: VM %s runs on node %s now (from node %s; %s)", migrationId, migration.vmId(),
                node.name(), migration.sourceNode(), steps);
        return resumedAt;
    }

    private void requireTargetHere(Migration migration) {
        if (!node.name().equals(migration.targetNode())) {
            throw new MigrationRefusedException(409, "migration " + migration.id() + " goes to node "
                    + migration.targetNode() + ", not to " + node.name());
        }
        if (migration.phase().isFinished()) {
            throw new MigrationRefusedException(409, "migration " + migration.id() + " has ended: "
                    + migration.phase());
        }
        if (!node.canRunVms()) {
            throw refused(migration, 409, "node " + node.name() + " cannot run VMs");
        }
    }

    /** A refusal recorded on the migration first, so the source learns the reason whatever reaches it. */
    private MigrationRefusedException refused(Migration migration, int status, String reason) {
        records.end(migration.id(), MigrationPhase.FAILED, "target node " + node.name() + " refused: " + reason);
        return new MigrationRefusedException(status, reason);
    }

    private record Resolved(VmSpec spec, VpIndexProvider provider) {
    }

    /**
     * The spec to build from the VM as the database has it: the provider this node uses for the VM's policy (which
     * may differ from the source's), and the stream's vCPUs, each of which must be a persisted plugged identity of
     * the VM, all of them.
     */
    private Resolved resolve(VmEntity vm, List<VcpuIdentity> streamed) {
        PlacementDecision decision = node.placementOf(vm);
        if (decision instanceof PlacementDecision.Refused refusal) {
            throw new MigrationRefusedException(422, "node " + node.name() + " cannot honour the VM's VP index policy: "
                    + refusal.reason());
        }
        VpIndexProvider provider = ((PlacementDecision.Accepted) decision).provider();
        List<VcpuIdentity> plugged = vm.vcpus.stream().filter(vcpu -> vcpu.plugged).map(VcpuEntity::identity).toList();
        if (!Set.copyOf(streamed).equals(Set.copyOf(plugged))) {
            throw new MigrationRefusedException(422, "the stream carries the vCPUs " + streamed + ", the database "
                    + "plugs " + plugged);
        }
        return new Resolved(VmReconciler.specFor(vm, provider, streamed), provider);
    }
}
