package io.quarkvm.service;

import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.StartupEvent;
import io.quarkvm.domain.ConflictException;
import io.quarkvm.domain.HypervisorKind;
import io.quarkvm.domain.Migration;
import io.quarkvm.domain.MigrationPhase;
import io.quarkvm.domain.VmPhase;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.node.LocalNode;
import io.quarkvm.node.PhaseChanges;
import io.quarkvm.persistence.DatabaseNotifications;
import io.quarkvm.persistence.GuestBootEntity;
import io.quarkvm.persistence.MigrationEntity;
import io.quarkvm.persistence.VmEntity;
import io.quarkvm.persistence.VmEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.persistence.LockModeType;
import org.hibernate.Hibernate;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.UUID;
import java.util.function.Predicate;

/**
 * Every change of a migration after it was requested, as the nodes that run it record them (docs/MIGRATION.md). Each
 * method is one short transaction and a conditional update: it changes the migration only from the phases it names,
 * under the row's lock, and returns whether it did (won). So a race between source, target and a client's cancel is
 * decided by the database, and exactly one of them wins. Each change is written to the event log (a
 * {@code migration} event, which also wakes every node's reconciler) and counted in {@link MigrationMetrics}; the
 * caller does not count anything itself.
 * <p>
 * A change that also changes the VM locks the VM's row before the migration's, as the request that creates a
 * migration does, so two writers never wait for each other in opposite orders.
 */
@ApplicationScoped
public class MigrationRecords {

    private static final Logger LOG = Logger.getLogger(MigrationRecords.class);
    /** Every event is kept in the log and sent to every subscriber: an error is kept to its start. */
    private static final int MAX_ERROR_LENGTH = 1000;
    private static final List<VmPhase> HANDOVER = Arrays.stream(VmPhase.values()).filter(VmPhase::isHandover).toList();

    private final DatabaseNotifications notifications;
    private final PhaseChanges phaseChanges;
    private final MigrationMetrics metrics;
    private final LocalNode local;

    MigrationRecords(DatabaseNotifications notifications, PhaseChanges phaseChanges, MigrationMetrics metrics,
                     LocalNode local) {
        this.notifications = notifications;
        this.phaseChanges = phaseChanges;
        this.metrics = metrics;
        this.local = local;
    }

    /**
     * A node that starts was part of no migration any more: whatever it sent or received died with its previous
     * process. Runs once the node is registered (priority 10) and before its reconciler looks at VMs (20).
     */
    void failWhatThisNodeLeftUnfinished(@Observes @Priority(18) StartupEvent event) {
        int failed = failUnfinishedOf(local.name(), "node " + local.name() + " restarted during the migration");
        if (failed > 0) {
            LOG.warnf("node %s: %d migration(s) it was part of when it last stopped marked FAILED", local.name(), failed);
        }
    }

    /** The migration as it is now. */
    public Optional<Migration> find(UUID id) {
        return QuarkusTransaction.requiringNew().call(() ->
                MigrationEntity.<MigrationEntity>findByIdOptional(id).map(MigrationEntity::toDomain));
    }

    /** SETUP → PRECOPY: the source begins to send. False when the migration was cancelled or failed first. */
    public boolean beginPrecopy(UUID id) {
        return change(id, false, migration -> migration.phase == MigrationPhase.SETUP, (migration, vm) -> {
            migration.phase = MigrationPhase.PRECOPY;
            return NOTHING_MORE;
        }).isPresent();
    }

    /**
     * The progress after a round (cumulative {@code bytesSent}), while the migration is unfinished. False once it
     * has ended: a source that sees it was cancelled stops sending.
     */
    public boolean recordRound(UUID id, int rounds, long bytesSent, long dirtyPagesLastRound, double dirtyRateMiBs) {
        requireRoundFigures(rounds, bytesSent, dirtyPagesLastRound, dirtyRateMiBs);
        return change(id, false, migration -> !migration.phase.isFinished(), (migration, vm) ->
                setRoundFigures(migration, rounds, bytesSent, dirtyPagesLastRound, dirtyRateMiBs)).isPresent();
    }

    /**
     * PRECOPY → STOP_AND_COPY, before the source pauses the VM: from here on a client can no longer cancel. The last
     * pre-copy round's progress is recorded in the same transaction (as {@link #recordRound} would: one transaction
     * fewer before the pause). False when a cancel (or a failure) came first; the source then stops sending and
     * leaves the VM running.
     *
     * @param converged what is left fits the downtime limit (false: the round limit ended pre-copy)
     */
    public boolean enterStopAndCopy(UUID id, boolean converged, int rounds, long bytesSent, long dirtyPagesLastRound,
                                    double dirtyRateMiBs) {
        requireRoundFigures(rounds, bytesSent, dirtyPagesLastRound, dirtyRateMiBs);
        return change(id, false, migration -> migration.phase == MigrationPhase.PRECOPY, (migration, vm) -> {
            migration.phase = MigrationPhase.STOP_AND_COPY;
            migration.converged = converged;
            return setRoundFigures(migration, rounds, bytesSent, dirtyPagesLastRound, dirtyRateMiBs);
        }).isPresent();
    }

    private static void requireRoundFigures(int rounds, long bytesSent, long dirtyPagesLastRound,
                                            double dirtyRateMiBs) {
        if (rounds < 0 || bytesSent < 0 || dirtyPagesLastRound < 0 || !(dirtyRateMiBs >= 0) || Double.isInfinite(dirtyRateMiBs)) {
            throw new IllegalArgumentException("a round's figures are counts and rates of 0 or more: rounds " + rounds
                    + ", bytesSent " + bytesSent + ", dirtyPagesLastRound " + dirtyPagesLastRound + ", dirtyRateMiBs "
                    + dirtyRateMiBs);
        }
    }

    /** Sets a round's figures on the migration; returns the bytes-sent counter's update, for after the commit. */
    private Runnable setRoundFigures(MigrationEntity migration, int rounds, long bytesSent, long dirtyPagesLastRound,
                                     double dirtyRateMiBs) {
        long newlySent = bytesSent - migration.bytesSent;
        migration.rounds = rounds;
        migration.bytesSent = bytesSent;
        migration.dirtyPagesLastRound = dirtyPagesLastRound;
        migration.dirtyRateMiBs = dirtyRateMiBs;
        return () -> metrics.sent(newlySent);
    }

    /**
     * The handover's commit point, by the target once it holds the whole VM: STOP_AND_COPY → COMPLETED and, in the
     * same transaction, the VM placed on the target and RUNNING (the target's reconciler holds its machine already;
     * a target that dies before it resumed it cold-boots it when it returns), its open boot moved there (node, hypervisor,
     * provider, and a residence row naming this migration). False when the source gave up first: the target then
     * discards its copy, which never ran.
     * <p>
     * Every round trip here is downtime, so the change is one statement ({@link #HANDOVER_COMMIT}), then one read for
     * the event, the event, the commit; the same rules as {@link #change}'s, the VM's row locked first.
     *
     * @param bootId the VM's open boot, which goes on on the target
     * @throws IllegalArgumentException the migration goes to another node, or the boot is not the VM's open one
     */
    public boolean completeOnTarget(UUID id, String targetNode, HypervisorKind hypervisor, VpIndexProvider provider,
                                    long bootId) {
        Optional<Migration> completed = QuarkusTransaction.requiringNew().call(() -> {
            Object[] changed = (Object[]) VmEntity.getEntityManager().createNativeQuery(HANDOVER_COMMIT)
                    .setParameter("id", id).setParameter("target", targetNode).setParameter("boot", bootId)
                    .setParameter("hypervisor", hypervisor.name()).setParameter("provider", provider.name())
                    .setParameter("now", Instant.now()).getSingleResult();
            if (((Number) changed[0]).longValue() == 0) {
                requireHandoverTo(id, targetNode, bootId);
                return Optional.<Migration>empty();
            }
            if (((Number) changed[1]).longValue() != 1 || ((Number) changed[2]).longValue() != 1) {
                throw new IllegalStateException("the handover of migration " + id + " placed " + changed[1]
                        + " VM(s) and moved " + changed[2] + " boot(s), not one of each: nothing of it is kept");
            }
            Object[] rows = VmEntity.getEntityManager().createQuery("select m, vm from MigrationEntity m, VmEntity vm "
                    + "where m.id = ?1 and vm.id = m.vmId", Object[].class).setParameter(1, id).getSingleResult();
            Migration migration = ((MigrationEntity) rows[0]).toDomain();
            notifications.announce(VmEvent.ofMigration((VmEntity) rows[1], migration));
            return Optional.of(migration);
        });
        completed.ifPresent(done -> {
            phaseChanges.recorded();
            metrics.ended(MigrationPhase.COMPLETED);
        });
        return completed.isPresent();
    }

    /**
     * STOP_AND_COPY → COMPLETED for the migration (:id), to the node (:target) it goes to, with the VM (locked first,
     * as {@link #change} does), its open boot (:boot) and a residence row (:hypervisor, :provider, at :now), all or
     * none; the counts of migrations completed, VMs placed and residences added. Under READ COMMITTED, a source that
     * ended the migration while this waited for the VM's lock leaves nothing to complete (the re-checked phase).
     */
    private static final String HANDOVER_COMMIT = """
            WITH locked_vm AS (
                SELECT vm.id FROM vm JOIN migration m ON m.vm_id = vm.id WHERE m.id = :id FOR UPDATE OF vm
            ), completed AS (
                UPDATE migration m SET phase = 'COMPLETED', ended_at = :now, version = m.version + 1
                WHERE m.id = :id AND m.phase = 'STOP_AND_COPY' AND m.target_node = :target
                  AND m.vm_id IN (SELECT id FROM locked_vm)
                  AND EXISTS (SELECT 1 FROM guest_boot b WHERE b.id = :boot AND b.vm_id = m.vm_id AND b.ended_at IS NULL)
                RETURNING m.vm_id
            ), placed AS (
                UPDATE vm SET node = :target, phase = 'RUNNING' FROM completed WHERE vm.id = completed.vm_id
                RETURNING vm.id
            ), moved AS (
                UPDATE guest_boot b SET node = :target, hypervisor = :hypervisor, provider = :provider
                FROM completed WHERE b.id = :boot AND b.vm_id = completed.vm_id AND b.ended_at IS NULL
                RETURNING b.id
            ), arrived AS (
                INSERT INTO guest_boot_residence (boot_id, node, hypervisor, provider, arrived_at, migration_id)
                SELECT moved.id, :target, :hypervisor, :provider, :now, :id FROM moved
                RETURNING id
            )
            SELECT (SELECT count(*) FROM completed), (SELECT count(*) FROM placed), (SELECT count(*) FROM arrived)
            """;

    /** Why nothing was completed: returns when the migration is not (or no longer) in STOP_AND_COPY. */
    private static void requireHandoverTo(UUID id, String targetNode, long bootId) {
        MigrationEntity migration = MigrationEntity.findById(id);
        if (migration == null || migration.phase != MigrationPhase.STOP_AND_COPY) {
            return;
        }
        if (!migration.targetNode.equals(targetNode)) {
            throw new IllegalArgumentException("migration " + id + " goes to node " + migration.targetNode
                    + ", not " + targetNode);
        }
        VmEntity vm = VmEntity.findById(migration.vmId);
        throw new IllegalArgumentException("boot " + bootId + " is not an open boot of VM "
                + (vm == null ? migration.vmId : vm.name));
    }

    /**
     * What a target needs before it reads the stream, in one transaction: the migration, the VM with its vCPUs (empty
     * when deleted) and its open boot (the one the migration carries on; empty when it has none).
     */
    public record Arriving(Migration migration, Optional<VmEntity> vm, OptionalLong openBootId) {
    }

    /** The migration as {@link Arriving} has it, if there is one. */
    public Optional<Arriving> arriving(UUID id) {
        return QuarkusTransaction.requiringNew().call(() -> MigrationEntity.<MigrationEntity>findByIdOptional(id)
                .map(migration -> {
                    Optional<VmEntity> vm = VmEntity.<VmEntity>findByIdOptional(migration.vmId);
                    vm.ifPresent(found -> Hibernate.initialize(found.vcpus));
                    OptionalLong boot = GuestBootEntity.<GuestBootEntity>find(
                                    "vmId = ?1 and endedAt is null order by boot desc", migration.vmId)
                            .firstResultOptional().map(open -> OptionalLong.of(open.id)).orElse(OptionalLong.empty());
                    return new Arriving(migration.toDomain(), vm, boot);
                }));
    }

    /**
     * How a handover went, as the source learnt it from the target's answer.
     *
     * @param downtimeMs from the pause request until the target's answer, on the source's clock
     * @param pausedAt   the pause request, on the source's clock
     * @param resumedAt  when the target had the VM running again, on its clock (empty: its answer did not say)
     */
    public record Handover(long downtimeMs, Instant pausedAt, Optional<Instant> resumedAt) {
        public Handover {
            if (downtimeMs < 0) {
                throw new IllegalArgumentException("a downtime is 0 ms or more: " + downtimeMs);
            }
        }
    }

    /**
     * The times the source measured, once the migration has ended, recorded once: its total time, and the handover
     * when the target's answer reached it. False before it has ended, or when they were recorded already.
     */
    public boolean recordTimes(UUID id, Optional<Handover> handover, long totalMs) {
        if (totalMs < 0) {
            throw new IllegalArgumentException("a total time is 0 ms or more: " + totalMs);
        }
        return change(id, false, migration -> migration.phase.isFinished() && migration.totalMs == null,
                (migration, vm) -> {
                    handover.ifPresent(times -> {
                        migration.downtimeMs = times.downtimeMs();
                        migration.pausedAt = times.pausedAt();
                        migration.resumedAt = times.resumedAt().orElse(null);
                    });
                    migration.totalMs = totalMs;
                    MigrationPhase outcome = migration.phase;
                    OptionalLong downtimeMs = handover.map(times -> OptionalLong.of(times.downtimeMs()))
                            .orElse(OptionalLong.empty());
                    return () -> metrics.timed(outcome, downtimeMs, totalMs);
                }).isPresent();
    }

    /**
     * The source gives up ({@code FAILED}: the connection was lost, the target answered an error, a deadline
     * passed, its own error; {@code CANCELLED}: it saw a cancel) from any unfinished phase, and the VM, if still
     * MIGRATING_OUT, is RUNNING again in the same transaction. False when the migration had ended already: if it is
     * COMPLETED ({@link #find}) the target committed, and the source drops its copy without ending the boot.
     */
    public boolean end(UUID id, MigrationPhase outcome, String reason) {
        if (outcome != MigrationPhase.FAILED && outcome != MigrationPhase.CANCELLED) {
            throw new IllegalArgumentException("a migration is ended as FAILED or CANCELLED, not " + outcome);
        }
        return finish(id, MigrationPhase.UNFINISHED, outcome, reason, null, false).isPresent();
    }

    /**
     * A client's cancel (DELETE /api/v1/migrations/{id}): allowed in SETUP and PRECOPY only, since the source moves
     * to STOP_AND_COPY before it pauses the VM. The VM keeps running on the source.
     */
    Migration cancel(UUID id) {
        // It took until now: the source, which stops at its next round, finds the times recorded.
        Migration cancelled = finish(id, MigrationPhase.CANCELLABLE, MigrationPhase.CANCELLED, "cancelled on request",
                null, true).orElseThrow(() -> {
                    Migration current = find(id).orElseThrow(() -> new MigrationNotFoundException(id));
                    return new ConflictException("migration " + id + " is " + current.phase() + ": "
                            + (current.phase() == MigrationPhase.STOP_AND_COPY
                            ? "the handover has begun, it can no longer be cancelled" : "it has ended"));
                });
        return cancelled;
    }

    /**
     * At a node's start: every unfinished migration it sends or receives is FAILED with {@code reason}. A VM it was
     * sending is STOPPED, since its copy died with the node, so that the reconciler restarts it (its desired state
     * is unchanged); a VM it was receiving is RUNNING again, on its source. A VM left in a handover phase on the
     * node without a migration is STOPPED too. Returns how many migrations it failed.
     */
    public int failUnfinishedOf(String node, String reason) {
        List<UUID> unfinished = QuarkusTransaction.requiringNew().call(() ->
                MigrationEntity.unfinishedThrough(node).stream().map(migration -> migration.id).toList());
        int failed = 0;
        for (UUID id : unfinished) {
            if (finish(id, MigrationPhase.UNFINISHED, MigrationPhase.FAILED, reason, node, false).isPresent()) {
                failed++;
            }
        }
        stopHandoversLeftOn(node, reason);
        return failed;
    }

    /**
     * @param restartedNode a node whose copy of the VM is gone, or null
     * @param timedNow      the migration's total time is until now (a client's cancel, which the source may not see)
     */
    private Optional<Migration> finish(UUID id, Set<MigrationPhase> from, MigrationPhase outcome,
                                       String reason, String restartedNode, boolean timedNow) {
        return change(id, true, migration -> from.contains(migration.phase), (migration, vm) -> {
            migration.phase = outcome;
            migration.error = truncated(reason);
            migration.endedAt = Instant.now();
            if (timedNow) {
                migration.totalMs = Math.max(0, Duration.between(migration.startedAt, migration.endedAt).toMillis());
            }
            if (vm.phase == VmPhase.MIGRATING_OUT) {
                boolean copyGone = restartedNode != null && restartedNode.equals(vm.node);
                vm.phase = copyGone ? VmPhase.STOPPED : VmPhase.RUNNING;
                if (copyGone) {
                    vm.lastError = migration.error;
                }
            }
            Long totalMs = migration.totalMs;
            return () -> {
                metrics.ended(outcome);
                if (totalMs != null) {
                    metrics.timed(outcome, OptionalLong.empty(), totalMs);
                }
            };
        });
    }

    private void stopHandoversLeftOn(String node, String reason) {
        boolean stopped = QuarkusTransaction.requiringNew().call(() -> {
            // Not one that a migration requested since this node registered is handing over.
            List<VmEntity> left = VmEntity.<VmEntity>find("from VmEntity vm where vm.node = ?1 and vm.phase in ?2 and "
                            + "not exists (select 1 from MigrationEntity m where m.vmId = vm.id and m.phase in ?3)",
                            node, HANDOVER, MigrationPhase.UNFINISHED)
                    .withLock(LockModeType.PESSIMISTIC_WRITE).list();
            for (VmEntity vm : left) {
                vm.phase = VmPhase.STOPPED;
                vm.lastError = truncated(reason);
                VmEntity.flush();
                notifications.announce(VmEvent.ofVm("phase", vm));
            }
            return !left.isEmpty();
        });
        if (stopped) {
            phaseChanges.recorded();
        }
    }

    /** Changes the locked rows; returns what to do once they are committed (a metric, say). */
    @FunctionalInterface
    private interface Change {
        Runnable apply(MigrationEntity migration, VmEntity vm);
    }

    private static final Runnable NOTHING_MORE = () -> { };

    private record Committed(Migration migration, Runnable afterCommit) {
    }

    /**
     * One transaction: the VM's row (locked first when {@code changesVm}), then the migration's, locked; when
     * {@code allowed} holds for it, applies {@code change} and logs the event. Returns the migration as committed,
     * or empty when there was nothing to change (no such migration, or not allowed now). Two statements before the
     * change: on the handover's commit every round trip is downtime.
     */
    private Optional<Migration> change(UUID id, boolean changesVm, Predicate<MigrationEntity> allowed, Change change) {
        Optional<Committed> committed = QuarkusTransaction.requiringNew().call(() -> {
            VmEntity vm;
            Optional<MigrationEntity> migration;
            if (changesVm) {
                // The VM found through the migration in the statement that locks it (the subquery's row is not
                // locked): the migration is loaded only under its own lock below, never as a stale unlocked copy.
                vm = VmEntity.getEntityManager().createQuery("select vm from VmEntity vm where vm.id = "
                                + "(select m.vmId from MigrationEntity m where m.id = ?1)", VmEntity.class)
                        .setParameter(1, id).setLockMode(LockModeType.PESSIMISTIC_WRITE)
                        .getResultStream().findFirst().orElse(null);
                migration = vm == null ? Optional.empty() : MigrationEntity.findLocked(id);
            } else {
                migration = MigrationEntity.findLocked(id);
                vm = migration.map(found -> VmEntity.<VmEntity>findById(found.vmId)).orElse(null);
            }
            if (vm == null || migration.isEmpty() || !allowed.test(migration.get())) {
                return Optional.empty();
            }
            Runnable afterCommit = change.apply(migration.get(), vm);
            MigrationEntity.flush();
            Migration changed = migration.get().toDomain();
            notifications.announce(VmEvent.ofMigration(vm, changed));
            return Optional.of(new Committed(changed, afterCommit));
        });
        committed.ifPresent(done -> {
            phaseChanges.recorded();
            done.afterCommit().run();
        });
        return committed.map(Committed::migration);
    }

    static String truncated(String reason) {
        return reason == null || reason.length() <= MAX_ERROR_LENGTH ? reason
                : reason.substring(0, MAX_ERROR_LENGTH) + "…";
    }
}
