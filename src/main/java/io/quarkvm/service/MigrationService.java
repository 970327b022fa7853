package io.quarkvm.service;

import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkvm.domain.ConflictException;
import io.quarkvm.domain.Migration;
import io.quarkvm.domain.MigrationPhase;
import io.quarkvm.domain.MigrationRules;
import io.quarkvm.domain.VmPhase;
import io.quarkvm.node.MigrationDue;
import io.quarkvm.node.NodeDirectory;
import io.quarkvm.node.PhaseChanges;
import io.quarkvm.persistence.DatabaseNotifications;
import io.quarkvm.persistence.MigrationEntity;
import io.quarkvm.persistence.NodeEntity;
import io.quarkvm.persistence.VmEntity;
import io.quarkvm.persistence.VmEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Event;
import jakarta.persistence.LockModeType;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * What a client asks of live migration, on whichever node takes the request (docs/MIGRATION.md): a migration is
 * checked ({@link MigrationRules}) and recorded, and the VM's source node runs it: at once when that is the node that
 * took the request ({@link MigrationDue} with the migration), else once the event's NOTIFY wakes its reconciler; the
 * nodes record what follows through {@link MigrationRecords}.
 */
@ApplicationScoped
public class MigrationService {

    private static final String ONE_UNFINISHED_PER_VM = "migration_one_unfinished_per_vm";

    private final NodeDirectory nodes;
    private final MigrationRecords records;
    private final PhaseChanges phaseChanges;
    private final DatabaseNotifications notifications;
    private final Event<MigrationDue> migrationsDue;

    MigrationService(NodeDirectory nodes, MigrationRecords records, PhaseChanges phaseChanges,
                     DatabaseNotifications notifications, Event<MigrationDue> migrationsDue) {
        this.nodes = nodes;
        this.records = records;
        this.phaseChanges = phaseChanges;
        this.notifications = notifications;
        this.migrationsDue = migrationsDue;
    }

    /**
     * In one transaction, with the VM's row locked: every refusal checked, the migration recorded in SETUP, the VM
     * MIGRATING_OUT, the event logged and announced. Two requests for one VM, on any nodes, run one after the other
     * here; should two ever get past the checks, the unique index on unfinished migrations refuses the second.
     */
    public Migration create(UUID vmId, String targetNode, Long downtimeLimitMs) {
        int downtimeLimit = MigrationRules.downtimeLimitMs(downtimeLimitMs);
        String target = MigrationRules.targetNode(targetNode);
        MigrationDue created;
        try {
            created = QuarkusTransaction.requiringNew().call(() -> {
                VmEntity vm = VmEntity.<VmEntity>findByIdOptional(vmId, LockModeType.PESSIMISTIC_WRITE)
                        .orElseThrow(() -> new VmNotFoundException(vmId));
                MigrationRules.check(
                        new MigrationRules.Vm(vm.name, vm.phase, vm.desiredState, vm.node,
                                vm.node != null && nodes.isLive(vm.node), vm.vpIndexPolicy(), vm.topology(),
                                vm.hypervVpIndex, vm.memoryMib),
                        MigrationEntity.unfinishedOf(vmId).map(m -> new MigrationRules.Unfinished(m.id, m.phase)),
                        target, nodes.migrationTarget(target));
                MigrationEntity migration = new MigrationEntity();
                migration.id = UUID.randomUUID();
                migration.vmId = vmId;
                migration.sourceNode = vm.node;
                migration.targetNode = target;
                migration.phase = MigrationPhase.SETUP;
                migration.downtimeLimitMs = downtimeLimit;
                migration.startedAt = Instant.now();
                migration.persist();
                vm.phase = VmPhase.MIGRATING_OUT;
                VmEntity.flush();
                Migration recorded = migration.toDomain();
                notifications.announce(VmEvent.ofMigration(vm, recorded));
                // The target's row, which the checks read (and found): from the session, no second query.
                String targetUrl = NodeEntity.<NodeEntity>findById(target).url;
                return new MigrationDue(vmId, Optional.of(recorded), Optional.ofNullable(targetUrl));
            });
        } catch (RuntimeException e) {
            if (VmService.isUniqueViolation(e, ONE_UNFINISHED_PER_VM)) {
                throw new ConflictException("VM " + vmId + " is already being migrated; wait until that migration has "
                        + "ended, or cancel it");
            }
            throw e;
        }
        phaseChanges.recorded();
        migrationsDue.fire(created);
        return created.migration().orElseThrow();
    }

    /**
     * The migration, once it has ended and its source has recorded how long it took (a moment after the target's
     * commit ends it), or once {@code wait} has passed, whichever comes first.
     */
    public Migration get(UUID id, Duration wait) {
        return phaseChanges.awaitUntil(() -> records.find(id).orElseThrow(() -> new MigrationNotFoundException(id)),
                migration -> migration.phase().isFinished() && migration.totalMs() != null, wait);
    }

    /** The VM's migrations, newest first. */
    public List<Migration> ofVm(UUID vmId) {
        return QuarkusTransaction.requiringNew().call(() -> {
            if (VmEntity.findById(vmId) == null) {
                throw new VmNotFoundException(vmId);
            }
            return MigrationEntity.ofVm(vmId).stream().map(MigrationEntity::toDomain).toList();
        });
    }

    /** Cancels a migration in SETUP or PRECOPY; a conflict once the handover has begun or it has ended. */
    public Migration cancel(UUID id) {
        return records.cancel(id);
    }
}
