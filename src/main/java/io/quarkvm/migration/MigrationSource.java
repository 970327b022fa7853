package io.quarkvm.migration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkvm.config.QuarkvmConfig;
import io.quarkvm.domain.Migration;
import io.quarkvm.domain.MigrationPhase;
import io.quarkvm.node.LocalNode;
import io.quarkvm.node.MigrationDue;
import io.quarkvm.node.MigrationStep;
import io.quarkvm.node.VmReconciler;
import io.quarkvm.persistence.MigrationEntity;
import io.quarkvm.persistence.NodeEntity;
import io.quarkvm.security.Credentials;
import io.quarkvm.service.MigrationRecords;
import io.quarkvm.vmm.VirtualMachine;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The source's side of a migration (docs/MIGRATION.md): taken up when this node's reconciler finds one of its VMs
 * handed to a migration, it streams the VM to the target ({@link OutgoingTransfer} over {@link StreamClient}),
 * recording every phase and round, and ends in one of two ways. The target answered that it runs the VM: the copy
 * here is dropped, its boot goes on there. Anything else: the migration is ended FAILED (or CANCELLED) by the same
 * conditional update the target's commit races, and the VM runs on here (the reconciler resumes it if the transfer
 * paused it); should the target have committed after all, the copy here is dropped as above.
 */
@ApplicationScoped
public class MigrationSource {

    private static final Logger LOG = Logger.getLogger(MigrationSource.class);

    private final LocalNode node;
    private final VmReconciler reconciler;
    private final MigrationRecords records;
    private final Credentials credentials;
    private final QuarkvmConfig config;
    private final ObjectMapper json;
    private final StreamClient client;
    private final Set<UUID> sending = ConcurrentHashMap.newKeySet();
    private final ExecutorService senders = Executors.newCachedThreadPool(runnable -> {
        Thread thread = new Thread(runnable, "migration-outgoing");
        thread.setDaemon(true);
        return thread;
    });

    MigrationSource(LocalNode node, VmReconciler reconciler, MigrationRecords records, Credentials credentials,
                    QuarkvmConfig config, ObjectMapper json) {
        this.node = node;
        this.reconciler = reconciler;
        this.records = records;
        this.credentials = credentials;
        this.config = config;
        this.json = json;
        this.client = new StreamClient(config.migration().stallTimeout());
        MigrationStep.requireKnown(config.migration().haltAt());
    }

    /** Once per VM at a time: the reconciler says so at every look at a VM handed over. */
    void takeUp(@Observes MigrationDue due) {
        if (sending.add(due.vmId())) {
            senders.execute(() -> {
                try {
                    due.migration().filter(migration -> !migration.phase().isFinished())
                            .or(() -> unfinishedMigrationOf(due.vmId()))
                            .ifPresent(migration -> send(migration, due.targetUrl()));
                } catch (RuntimeException e) {
                    LOG.errorf(e, "the migration of VM %s failed on its source", due.vmId());
                } finally {
                    sending.remove(due.vmId());
                }
            });
        }
    }

    void stopSending(@Observes ShutdownEvent event) throws InterruptedException {
        senders.shutdownNow();
        senders.awaitTermination(5, TimeUnit.SECONDS);
    }

    private Optional<Migration> unfinishedMigrationOf(UUID vmId) {
        return QuarkusTransaction.requiringNew().call(() -> MigrationEntity.<MigrationEntity>find(
                        "vmId = ?1 and phase in ?2", vmId, MigrationPhase.UNFINISHED).firstResultOptional()
                .map(MigrationEntity::toDomain));
    }

    private void send(Migration migration, Optional<String> knownTargetUrl) {
        UUID id = migration.id();
        if (!migration.sourceNode().equals(node.name())) {
            return;
        }
        Optional<VirtualMachine> running = reconciler.machineOf(migration.vmId());
        if (running.isEmpty()) {
            giveUp(migration, MigrationPhase.FAILED, "the VM does not run on its source node " + node.name());
            return;
        }
        StepTimes steps = new StepTimes();
        // SETUP → PRECOPY is recorded while the stream is set up, not before: the transfer waits for it before it
        // records its first round (or the stop-and-copy), so a cancel that came first still ends it with the VM running.
        CompletableFuture<Boolean> precopyBegun = migration.phase() == MigrationPhase.SETUP
                ? CompletableFuture.supplyAsync(() -> records.beginPrecopy(id), senders)
                : CompletableFuture.completedFuture(true);
        Runnable requirePrecopyBegun = () -> {
            if (!precopyBegun.join()) {
                throw new CancellationException("the migration was cancelled before pre-copy began");
            }
        };
        VirtualMachine machine = running.get();
        String targetUrl = knownTargetUrl.orElseGet(() -> QuarkusTransaction.requiringNew().call(() ->
                NodeEntity.<NodeEntity>findByIdOptional(migration.targetNode()).map(target -> target.url).orElse(null)));
        if (targetUrl == null) {
            giveUp(migration, MigrationPhase.FAILED, "target node " + migration.targetNode() + " has no address");
            return;
        }
        steps.mark("target's address");
        AtomicReference<OutgoingTransfer.Result> result = new AtomicReference<>();
        OutgoingTransfer transfer = new OutgoingTransfer(machine, id, migration.vmId(),
                new OutgoingTransfer.Settings(Duration.ofMillis(migration.downtimeLimitMs()), config.migration().maxRounds()),
                progress -> {
                    requirePrecopyBegun.run();
                    MigrationStep.SOURCE_PRECOPY.haltIfAt(config.migration().haltAt());
                    // The last round is recorded with STOP_AND_COPY, in the gate's transaction.
                    if (!progress.last() && !records.recordRound(id, progress.round() + 1, progress.bytesSent(),
                            progress.dirtyPages(), progress.dirtyRateMiBs())) {
                        throw new CancellationException("the migration was cancelled or ended meanwhile");
                    }
                },
                (lastRound, converged) -> {
                    requirePrecopyBegun.run();
                    boolean allowed = records.enterStopAndCopy(id, converged, lastRound.round() + 1,
                            lastRound.bytesSent(), lastRound.dirtyPages(), lastRound.dirtyRateMiBs());
                    if (allowed) {
                        MigrationStep.SOURCE_STOP_AND_COPY.haltIfAt(config.migration().haltAt());
                    }
                    return allowed;
                });
        try {
            StreamClient.Answer answer = client.send(targetUrl, id, credentials.clusterSecret(),
                    stream -> result.set(transfer.run(stream, steps)), config.migration().answerTimeout());
            if (answer.accepted()) {
                MigrationStep.SOURCE_HANDED_OVER.haltIfAt(config.migration().haltAt());
                steps.mark("target's answer");
                handedOver(migration, result.get(), resumedAtOf(answer.body()), steps);
                return;
            }
            giveUp(migration, MigrationPhase.FAILED, "target node " + migration.targetNode() + " answered "
                    + answer.status() + ": " + detailOf(answer.body()));
        } catch (CancellationException e) {
            giveUp(migration, MigrationPhase.CANCELLED, "cancelled: " + e.getMessage());
        } catch (IOException | RuntimeException e) {
            giveUp(migration, MigrationPhase.FAILED, "the stream to node " + migration.targetNode() + " failed: "
                    + e.getMessage());
        }
    }

    /** The target runs the VM: its copy here is dropped, the boot goes on there. */
    private void handedOver(Migration migration, OutgoingTransfer.Result result, Optional<Instant> resumedAt,
                            StepTimes steps) {
        Optional<MigrationRecords.Handover> handover = Optional.ofNullable(result).map(sent ->
                new MigrationRecords.Handover(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sent.pausedAtNanos()),
                        sent.pausedAt(), resumedAt));
        reconciler.leftByMigration(migration.vmId());
        long totalMs = totalMillis(migration);
        records.recordTimes(migration.id(), handover, totalMs);
        LOG.infof("migration %s: VM %s handed over to node %s (%s ms down, %d ms in all, %d rounds; %s)",
                migration.id(), migration.vmId(), migration.targetNode(),
                handover.map(times -> (Object) times.downtimeMs()).orElse("?"), totalMs,
                result == null ? 0 : result.rounds(), steps == null ? "the target's answer was lost" : steps);
    }

    /** When the target says it let the VM run again (its clock), if its answer says so. */
    private Optional<Instant> resumedAtOf(String answer) {
        try {
            JsonNode resumedAt = json.readTree(answer).get("resumedAt");
            return resumedAt == null || !resumedAt.isTextual() ? Optional.empty()
                    : Optional.of(Instant.parse(resumedAt.asText()));
        } catch (IOException | RuntimeException unreadable) {
            LOG.warnf("migration answer without a readable resumedAt: %s", answer);
            return Optional.empty();
        }
    }

    /**
     * Ends the migration unless the target committed first; then the VM goes on where the handover left it: here
     * (resumed by the reconciler if the transfer had paused it), or there.
     */
    private void giveUp(Migration migration, MigrationPhase outcome, String reason) {
        if (records.end(migration.id(), outcome, reason)) {
            LOG.warnf("migration %s of VM %s %s: %s", migration.id(), migration.vmId(), outcome, reason);
        }
        afterGivingUp(migration);
    }

    private void afterGivingUp(Migration migration) {
        Migration ended = records.find(migration.id()).orElse(migration);
        if (ended.phase() == MigrationPhase.COMPLETED) {
            handedOver(migration, null, Optional.empty(), null); // the target committed though its answer was lost
            return;
        }
        records.recordTimes(migration.id(), Optional.empty(), totalMillis(migration));
        reconciler.enqueue(migration.vmId());
    }

    private static long totalMillis(Migration migration) {
        return Math.max(0, Duration.between(migration.startedAt(), Instant.now()).toMillis());
    }

    /** The detail of a target's problem+json answer, or the answer as it is. */
    private String detailOf(String body) {
        try {
            JsonNode problem = json.readTree(body);
            return problem.hasNonNull("detail") ? problem.get("detail").asText() : body;
        } catch (IOException | RuntimeException notJson) {
            return body;
        }
    }
}
