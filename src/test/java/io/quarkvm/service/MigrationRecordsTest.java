package io.quarkvm.service;

import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkvm.api.MigrationFixtures;
import io.quarkvm.api.MigrationFixtures.FakeNode;
import io.quarkvm.domain.HypervisorKind;
import io.quarkvm.domain.Migration;
import io.quarkvm.domain.MigrationPhase;
import io.quarkvm.domain.VmPhase;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.persistence.GuestBootEntity;
import io.quarkvm.persistence.VmEntity;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.quarkvm.api.MigrationFixtures.migrationOf;
import static io.quarkvm.api.MigrationFixtures.nodeOf;
import static io.quarkvm.api.MigrationFixtures.phaseOf;
import static io.quarkvm.api.MigrationFixtures.runningVmOn;
import static io.quarkvm.api.MigrationFixtures.uniqueName;
import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What the nodes record as a migration goes on: each change is allowed from its phases only and says whether it won,
 * and where two race, exactly one wins.
 */
@QuarkusTest
class MigrationRecordsTest extends MigrationFixtures.WithSourceAndTarget {

    private static final int RACES = 20;

    @Inject
    MigrationRecords records;

    @Inject
    MigrationService migrations;

    @Inject
    MeterRegistry metrics;

    private Migration migration(UUID id) {
        return records.find(id).orElseThrow();
    }

    @Test
    void eachPhaseIsEnteredFromTheOneBeforeItOnly() {
        UUID vm = runningVmOn(source);
        UUID id = migrationOf(vm, target);
        assertThat(records.enterStopAndCopy(id, true, 1, 4096, 0, 0)).as("not before PRECOPY").isFalse();
        assertThat(records.completeOnTarget(id, target, HypervisorKind.KVM, VpIndexProvider.USERSPACE_MSR,
                openBoot(vm))).as("not before STOP_AND_COPY").isFalse();
        assertThat(migration(id).phase()).isEqualTo(MigrationPhase.SETUP);

        assertThat(records.beginPrecopy(id)).isTrue();
        assertThat(records.beginPrecopy(id)).as("once").isFalse();
        assertThat(migration(id).converged()).as("not known before the pause").isNull();
        assertThat(records.enterStopAndCopy(id, false, 1, 4096, 0, 0)).isTrue();
        assertThat(migration(id).converged()).as("the round limit ended pre-copy").isFalse();
        assertThat(records.enterStopAndCopy(id, true, 1, 4096, 0, 0)).as("once").isFalse();
        assertThat(records.beginPrecopy(id)).as("never back").isFalse();
        assertThat(migration(id).phase()).isEqualTo(MigrationPhase.STOP_AND_COPY);
        assertThat(phaseOf(vm)).isEqualTo(VmPhase.MIGRATING_OUT);
        assertThat(migration(id).endedAt()).isNull();
    }

    @Test
    void roundsAreRecordedWhileTheMigrationIsUnfinished() {
        UUID vm = runningVmOn(source);
        UUID id = migrationOf(vm, target);
        double sentBefore = bytesSent();
        assertThat(records.beginPrecopy(id)).isTrue();
        assertThat(records.recordRound(id, 1, 3 << 20, 512, 12.5)).isTrue();
        assertThat(records.recordRound(id, 2, 4 << 20, 64, 2.0)).isTrue();
        Migration afterTwo = migration(id);
        assertThat(afterTwo.rounds()).isEqualTo(2);
        assertThat(afterTwo.bytesSent()).isEqualTo(4 << 20);
        assertThat(afterTwo.dirtyPagesLastRound()).isEqualTo(64);
        assertThat(afterTwo.dirtyRateMiBs()).isEqualTo(2.0);
        assertThat(bytesSent() - sentBefore).as("the counter moves by what each round added").isEqualTo(4 << 20);
        assertThat(records.enterStopAndCopy(id, true, 3, 5 << 20, 8, 0.5)).as("with the last pre-copy round").isTrue();
        Migration stopping = migration(id);
        assertThat(stopping.rounds()).isEqualTo(3);
        assertThat(stopping.bytesSent()).isEqualTo(5 << 20);
        assertThat(stopping.dirtyPagesLastRound()).isEqualTo(8);
        assertThat(bytesSent() - sentBefore).isEqualTo(5 << 20);
        assertThat(records.recordRound(id, 4, 6 << 20, 0, 0)).as("the last round, paused").isTrue();

        assertThat(records.end(id, MigrationPhase.FAILED, "target unreachable")).isTrue();
        assertThat(records.recordRound(id, 5, 7 << 20, 0, 0)).as("not once ended").isFalse();
        assertThat(migration(id).rounds()).isEqualTo(4);
        assertThatThrownBy(() -> records.recordRound(id, 1, -1, 0, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> records.recordRound(id, 1, 0, 0, Double.NaN)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> records.enterStopAndCopy(id, true, -1, 0, 0, 0))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theTargetsCommitMovesTheVmAndItsBootInOneStep() {
        UUID vm = runningVmOn(source);
        long boot = openBoot(vm);
        UUID id = inStopAndCopy(vm);
        double completed = outcomes(MigrationPhase.COMPLETED);

        assertThatThrownBy(() -> records.completeOnTarget(id, source, HypervisorKind.KVM, VpIndexProvider.USERSPACE_MSR,
                boot)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining(target);
        assertThatThrownBy(() -> records.completeOnTarget(id, target, HypervisorKind.KVM, VpIndexProvider.USERSPACE_MSR,
                openBoot(runningVmOn(source)))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not an open boot");
        assertThat(migration(id).phase()).as("a refused commit changes nothing").isEqualTo(MigrationPhase.STOP_AND_COPY);

        assertThat(records.completeOnTarget(id, target, HypervisorKind.EMULATED, VpIndexProvider.KERNEL_SETTABLE,
                boot)).isTrue();
        Migration done = migration(id);
        assertThat(done.phase()).isEqualTo(MigrationPhase.COMPLETED);
        assertThat(done.downtimeMs()).as("the source's to record").isNull();
        assertThat(done.endedAt()).isNotNull();
        assertThat(nodeOf(vm)).isEqualTo(target);
        assertThat(phaseOf(vm)).isEqualTo(VmPhase.RUNNING);
        assertThat(outcomes(MigrationPhase.COMPLETED) - completed).isEqualTo(1);

        JsonPath identity = given().get("/api/v1/vms/" + vm + "/guest-identity").then().statusCode(200).extract().jsonPath()
                .setRootPath("boots[0]");
        assertThat(identity.getString("node")).isEqualTo(target);
        assertThat(identity.getString("hypervisor")).isEqualTo("EMULATED");
        assertThat(identity.getString("provider")).isEqualTo("KERNEL_SETTABLE");
        assertThat(identity.getString("endedAt")).as("the boot goes on").isNull();
        assertThat(identity.getList("residences.node")).containsExactly(source, target);
        assertThat(identity.getString("residences[0].migrationId")).isNull();
        assertThat(identity.getString("residences[1].migrationId")).isEqualTo(id.toString());
        assertThat(identity.getString("residences[1].hypervisor")).isEqualTo("EMULATED");
        assertThat(identity.getString("residences[1].arrivedAt")).isEqualTo(
                given().get("/api/v1/migrations/" + id).then().extract().path("endedAt"));

        assertThat(records.end(id, MigrationPhase.FAILED, "too late")).as("the source lost the race").isFalse();
        assertThat(records.completeOnTarget(id, target, HypervisorKind.KVM, VpIndexProvider.USERSPACE_MSR,
                boot)).as("once").isFalse();
        assertThat(migration(id).phase()).isEqualTo(MigrationPhase.COMPLETED);
    }

    @Test
    void timesAreRecordedOnceTheMigrationHasEndedAndOnlyOnce() {
        UUID vm = runningVmOn(source);
        long boot = openBoot(vm);
        UUID id = inStopAndCopy(vm);
        long downtimes = timerCount("quarkvm.migration.downtime", MigrationPhase.COMPLETED);
        long totals = timerCount("quarkvm.migration.total", MigrationPhase.COMPLETED);
        Instant pausedAt = Instant.parse("2026-12-02T10:00:00.000100Z");
        Instant resumedAt = Instant.parse("2026-12-02T10:00:00.004350Z");
        Optional<MigrationRecords.Handover> handover = Optional.of(new MigrationRecords.Handover(30, pausedAt,
                Optional.of(resumedAt)));
        assertThat(records.recordTimes(id, handover, 900)).as("not before it has ended").isFalse();
        assertThat(records.completeOnTarget(id, target, HypervisorKind.KVM, VpIndexProvider.USERSPACE_MSR,
                boot)).isTrue();
        assertThat(records.recordTimes(id, handover, 900)).isTrue();
        assertThat(records.recordTimes(id, Optional.of(new MigrationRecords.Handover(31, pausedAt, Optional.empty())),
                901)).as("once").isFalse();
        assertThat(migration(id).downtimeMs()).isEqualTo(30);
        assertThat(migration(id).totalMs()).isEqualTo(900);
        assertThat(migration(id).pausedAt()).as("to the microsecond").isEqualTo(pausedAt);
        assertThat(migration(id).resumedAt()).isEqualTo(resumedAt);
        assertThat(given().get("/api/v1/migrations/" + id).then().statusCode(200).extract().<String>path("resumedAt"))
                .isEqualTo("2026-12-02T10:00:00.004350Z");
        assertThatThrownBy(() -> new MigrationRecords.Handover(-1, pausedAt, Optional.empty()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(timerCount("quarkvm.migration.downtime", MigrationPhase.COMPLETED) - downtimes).isEqualTo(1);
        assertThat(timerCount("quarkvm.migration.total", MigrationPhase.COMPLETED) - totals).isEqualTo(1);

        UUID cancelled = migrationOf(runningVmOn(source), target);
        Migration cancel = migrations.cancel(cancelled);
        assertThat(cancel.totalMs()).as("a client's cancel records how long the migration took until it").isNotNull();
        assertThat(records.recordTimes(cancelled, Optional.empty(), 40)).as("the source comes too late").isFalse();
        assertThat(migration(cancelled).downtimeMs()).as("never paused").isNull();
        assertThat(migration(cancelled).pausedAt()).isNull();
        assertThat(migration(cancelled).totalMs()).isEqualTo(cancel.totalMs());
    }

    @Test
    void theSourceEndsAMigrationFromAnyUnfinishedPhaseAndTheVmRunsOnIt() {
        double failed = outcomes(MigrationPhase.FAILED);
        double cancelled = outcomes(MigrationPhase.CANCELLED);
        UUID vm = runningVmOn(source);
        UUID inSetup = migrationOf(vm, target);
        assertThat(records.end(inSetup, MigrationPhase.CANCELLED, "the source saw a cancel")).isTrue();
        assertThat(phaseOf(vm)).isEqualTo(VmPhase.RUNNING);

        UUID inPrecopy = migrationOf(vm, target);
        records.beginPrecopy(inPrecopy);
        assertThat(records.end(inPrecopy, MigrationPhase.FAILED, "connection reset")).isTrue();
        assertThat(phaseOf(vm)).isEqualTo(VmPhase.RUNNING);

        UUID inStopAndCopy = inStopAndCopy(vm);
        assertThat(records.end(inStopAndCopy, MigrationPhase.FAILED, "x".repeat(5000))).isTrue();
        Migration ended = migration(inStopAndCopy);
        assertThat(ended.phase()).isEqualTo(MigrationPhase.FAILED);
        assertThat(ended.endedAt()).isNotNull();
        assertThat(ended.error()).as("kept to its start").hasSize(1001).endsWith("x…");
        assertThat(phaseOf(vm)).isEqualTo(VmPhase.RUNNING);
        assertThat(nodeOf(vm)).isEqualTo(source);
        assertThat(records.end(inStopAndCopy, MigrationPhase.FAILED, "again")).as("once").isFalse();
        assertThat(migration(inStopAndCopy).error()).startsWith("xxx");
        assertThat(outcomes(MigrationPhase.FAILED) - failed).isEqualTo(2);
        assertThat(outcomes(MigrationPhase.CANCELLED) - cancelled).isEqualTo(1);

        assertThatThrownBy(() -> records.end(inSetup, MigrationPhase.COMPLETED, "no")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> records.end(inSetup, MigrationPhase.PRECOPY, "no")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void anUnknownMigrationIsNeverWon() {
        UUID unknown = UUID.randomUUID();
        assertThat(records.find(unknown)).isEmpty();
        assertThat(records.beginPrecopy(unknown)).isFalse();
        assertThat(records.recordRound(unknown, 1, 1, 1, 1)).isFalse();
        assertThat(records.enterStopAndCopy(unknown, true, 1, 4096, 0, 0)).isFalse();
        assertThat(records.completeOnTarget(unknown, target, HypervisorKind.KVM, VpIndexProvider.USERSPACE_MSR,
                1)).isFalse();
        assertThat(records.recordTimes(unknown, Optional.empty(), 1)).isFalse();
        assertThat(records.end(unknown, MigrationPhase.FAILED, "no")).isFalse();
    }

    @Test
    void aNodeThatStartsFailsTheMigrationsItWasPartOf() {
        String restarted = nodes.register(FakeNode.live(uniqueName("restarted")));
        UUID sentByIt = runningVmOn(restarted);
        UUID sending = migrationOf(sentByIt, target);
        records.beginPrecopy(sending);
        UUID receivedByIt = runningVmOn(source);
        UUID receiving = inStopAndCopy(receivedByIt, restarted);
        UUID unrelatedVm = runningVmOn(source);
        UUID unrelated = migrationOf(unrelatedVm, target);
        UUID leftInHandover = runningVmOn(restarted);
        QuarkusTransaction.requiringNew().run(() -> VmEntity.<VmEntity>findById(leftInHandover).phase = VmPhase.MIGRATING_OUT);
        double failed = outcomes(MigrationPhase.FAILED);

        assertThat(records.failUnfinishedOf(restarted, "node " + restarted + " restarted during the migration")).isEqualTo(2);

        for (UUID id : List.of(sending, receiving)) {
            assertThat(migration(id).phase()).isEqualTo(MigrationPhase.FAILED);
            assertThat(migration(id).error()).isEqualTo("node " + restarted + " restarted during the migration");
            assertThat(migration(id).endedAt()).isNotNull();
        }
        assertThat(phaseOf(sentByIt)).as("its copy died with the node: the reconciler restarts it").isEqualTo(VmPhase.STOPPED);
        assertThat(nodeOf(sentByIt)).isEqualTo(restarted);
        given().get("/api/v1/vms/" + sentByIt).then().body("lastError", org.hamcrest.Matchers.containsString("restarted"))
                .body("desiredState", org.hamcrest.Matchers.equalTo("RUNNING"));
        assertThat(phaseOf(receivedByIt)).as("its source still holds it").isEqualTo(VmPhase.RUNNING);
        assertThat(nodeOf(receivedByIt)).isEqualTo(source);
        assertThat(phaseOf(leftInHandover)).isEqualTo(VmPhase.STOPPED);
        assertThat(migration(unrelated).phase()).isEqualTo(MigrationPhase.SETUP);
        assertThat(phaseOf(unrelatedVm)).isEqualTo(VmPhase.MIGRATING_OUT);
        assertThat(outcomes(MigrationPhase.FAILED) - failed).isEqualTo(2);
        assertThat(records.failUnfinishedOf(restarted, "again")).isZero();
    }

    @Test
    void aCancelAndTheSourcesStopAndCopyRaceAndExactlyOneWins() throws Exception {
        UUID vm = runningVmOn(source);
        int cancelsWon = 0;
        for (int race = 0; race < RACES; race++) {
            UUID id = migrationOf(vm, target);
            assertThat(records.beginPrecopy(id)).isTrue();
            List<Object> outcome = concurrently(() -> records.enterStopAndCopy(id, true, 1, 4096, 0, 0), () -> {
                try {
                    return migrations.cancel(id);
                } catch (io.quarkvm.domain.ConflictException refused) {
                    return refused;
                }
            });
            boolean stopAndCopyWon = (Boolean) outcome.get(0);
            boolean cancelWon = outcome.get(1) instanceof Migration;
            assertThat(stopAndCopyWon).as("race %d: exactly one wins", race).isNotEqualTo(cancelWon);
            if (cancelWon) {
                cancelsWon++;
                assertThat(migration(id).phase()).isEqualTo(MigrationPhase.CANCELLED);
                assertThat(phaseOf(vm)).isEqualTo(VmPhase.RUNNING);
            } else {
                assertThat(migration(id).phase()).isEqualTo(MigrationPhase.STOP_AND_COPY);
                assertThat(phaseOf(vm)).isEqualTo(VmPhase.MIGRATING_OUT);
                assertThat(records.end(id, MigrationPhase.FAILED, "test: next race")).isTrue();
            }
        }
        System.out.printf("cancel won %d of %d races against enterStopAndCopy%n", cancelsWon, RACES);
    }

    @Test
    void theTargetsCommitAndTheSourceGivingUpRaceAndExactlyOneWins() throws Exception {
        UUID vm = runningVmOn(source);
        long boot = openBoot(vm);
        int commitsWon = 0;
        for (int race = 0; race < RACES; race++) {
            String from = nodeOf(vm);
            String to = from.equals(source) ? target : source;
            UUID id = inStopAndCopy(vm, to);
            List<Object> outcome = concurrently(
                    () -> records.completeOnTarget(id, to, HypervisorKind.KVM, VpIndexProvider.USERSPACE_MSR,
                            boot),
                    () -> records.end(id, MigrationPhase.FAILED, "test: the source gave up"));
            boolean committed = (Boolean) outcome.get(0);
            assertThat(committed).as("race %d: exactly one wins", race).isNotEqualTo(outcome.get(1));
            assertThat(phaseOf(vm)).isEqualTo(VmPhase.RUNNING);
            assertThat(nodeOf(vm)).isEqualTo(committed ? to : from);
            assertThat(migration(id).phase()).isEqualTo(committed ? MigrationPhase.COMPLETED : MigrationPhase.FAILED);
            commitsWon += committed ? 1 : 0;
        }
        long residences = QuarkusTransaction.requiringNew().call(() ->
                (long) GuestBootEntity.<GuestBootEntity>findById(boot).residences.size());
        assertThat(residences).as("one more residence per commit won").isEqualTo(1 + commitsWon);
        System.out.printf("the target's commit won %d of %d races against the source's end%n", commitsWon, RACES);
    }

    @Test
    void theMetricsAreOnThePrometheusEndpoint() {
        UUID vm = runningVmOn(source);
        UUID id = migrationOf(vm, target);
        records.beginPrecopy(id);
        records.recordRound(id, 1, 8192, 2, 0.5);
        migrations.cancel(id);
        records.recordTimes(id, Optional.empty(), 25);
        String exposed = given().get("/q/metrics").then().statusCode(200).extract().asString();
        assertThat(exposed).contains("quarkvm_migration_outcomes_total{phase=\"CANCELLED\"}",
                "quarkvm_migration_outcomes_total{phase=\"COMPLETED\"}", "quarkvm_migration_outcomes_total{phase=\"FAILED\"}",
                "quarkvm_migration_bytes_sent_total", "quarkvm_migration_total_seconds_count{outcome=\"CANCELLED\"}");
    }

    /** Runs both at once (as nearly as two threads released together can) and returns what each returned. */
    private static List<Object> concurrently(Callable<Object> first, Callable<Object> second) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            CountDownLatch ready = new CountDownLatch(2);
            List<Future<Object>> results = new ArrayList<>();
            for (Callable<Object> call : List.of(first, second)) {
                results.add(pool.submit(() -> {
                    ready.countDown();
                    ready.await();
                    return call.call();
                }));
            }
            return List.of(results.get(0).get(30, TimeUnit.SECONDS), results.get(1).get(30, TimeUnit.SECONDS));
        } finally {
            pool.shutdownNow();
        }
    }

    private UUID inStopAndCopy(UUID vm) {
        return inStopAndCopy(vm, target);
    }

    private UUID inStopAndCopy(UUID vm, String to) {
        UUID id = migrationOf(vm, to);
        assertThat(records.beginPrecopy(id)).isTrue();
        assertThat(records.enterStopAndCopy(id, true, 1, 4096, 0, 0)).isTrue();
        return id;
    }

    /** The VM's open boot, as the fixture opened it. */
    private static long openBoot(UUID vm) {
        return QuarkusTransaction.requiringNew().call(() -> GuestBootEntity.ofVm(vm).stream()
                .filter(boot -> boot.endedAt == null).findFirst().orElseThrow().id);
    }

    private double outcomes(MigrationPhase phase) {
        return metrics.get("quarkvm.migration.outcomes").tag("phase", phase.name()).counter().count();
    }

    private double bytesSent() {
        return metrics.get("quarkvm.migration.bytes.sent").counter().count();
    }

    private long timerCount(String name, MigrationPhase outcome) {
        var timer = metrics.find(name).tag("outcome", outcome.name()).timer();
        return timer == null ? 0 : timer.count();
    }
}
