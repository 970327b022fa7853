package io.quarkvm.api;

import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkvm.TestCredentials;
import io.quarkvm.api.MigrationFixtures.FakeNode;
import io.quarkvm.domain.MigrationPhase;
import io.quarkvm.domain.VmPhase;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.persistence.EventLog;
import io.quarkvm.service.MigrationRecords;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import javax.sql.DataSource;
import java.io.IOException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.quarkvm.api.MigrationFixtures.migrate;
import static io.quarkvm.api.MigrationFixtures.migrationOf;
import static io.quarkvm.api.MigrationFixtures.nodeOf;
import static io.quarkvm.api.MigrationFixtures.phaseOf;
import static io.quarkvm.api.MigrationFixtures.runningVmOn;
import static io.quarkvm.api.MigrationFixtures.uniqueName;
import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasKey;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;

/**
 * POST and GET /api/v1/vms/{id}/migrations, GET and DELETE /api/v1/migrations/{id}: every answer and every refusal.
 * The node-side runner is not part of this: a migration stays in the phase the test puts it in.
 */
@QuarkusTest
class MigrationResourceTest extends MigrationFixtures.WithSourceAndTarget {

    private static final List<String> CONTRACT_FIELDS = List.of("id", "vmId", "sourceNode", "targetNode", "phase",
            "rounds", "bytesSent", "dirtyPagesLastRound", "dirtyRateMiBs", "downtimeMs", "totalMs", "error",
            "startedAt", "endedAt");

    @Inject
    MigrationRecords records;

    @Inject
    EventLog events;

    @Inject
    DataSource database;

    @TestHTTPResource("/api/v1/events")
    URL eventStream;

    @Test
    void aMigrationIsRecordedInSetupWithItsLocationAndTheVmIsMigratingOut() {
        UUID vm = runningVmOn(source);
        Response created = given().contentType(ContentType.JSON).body("{\"targetNode\":\"" + target + "\"}")
                .post("/api/v1/vms/" + vm + "/migrations");
        created.then().statusCode(202).contentType(ContentType.JSON)
                .body("vmId", equalTo(vm.toString())).body("sourceNode", equalTo(source))
                .body("targetNode", equalTo(target)).body("phase", equalTo("SETUP"))
                .body("downtimeLimitMs", equalTo(50)).body("rounds", equalTo(0)).body("bytesSent", equalTo(0))
                .body("dirtyPagesLastRound", nullValue()).body("downtimeMs", nullValue()).body("pausedAt", nullValue())
                .body("resumedAt", nullValue()).body("error", nullValue())
                .body("startedAt", notNullValue()).body("endedAt", nullValue());
        for (String field : CONTRACT_FIELDS) {
            created.then().body("$", hasKey(field));
        }
        String id = created.path("id");
        assertThat(created.header("Location")).endsWith("/api/v1/migrations/" + id);
        given().get(created.header("Location")).then().statusCode(200).body("id", equalTo(id))
                .body("phase", equalTo("SETUP")).body("targetNode", equalTo(target));
        given().get("/api/v1/vms/" + vm).then().statusCode(200)
                .body("phase", equalTo("MIGRATING_OUT")).body("node", equalTo(source))
                .body("desiredState", equalTo("RUNNING"));
    }

    @Test
    void theDowntimeLimitIsTakenAsGivenFromOneMillisecondToOneMinute() {
        for (int limit : new int[] {1, 250, 60_000}) {
            UUID vm = runningVmOn(source);
            migrate(vm, target, limit).statusCode(202).body("downtimeLimitMs", equalTo(limit));
        }
    }

    @Test
    void aRequestThatCannotBeReadIsABadRequestAndChangesNothing() {
        UUID vm = runningVmOn(source);
        expectProblem(given().contentType(ContentType.JSON).post("/api/v1/vms/" + vm + "/migrations"), 400, null);
        expectProblem(given().contentType(ContentType.JSON).body("{\"targetNode\":").post("/api/v1/vms/" + vm + "/migrations"), 400, null);
        expectProblem(given().contentType(ContentType.JSON).body("{\"targetNode\":\"" + target + "\",\"speed\":9}")
                .post("/api/v1/vms/" + vm + "/migrations"), 400, "speed");
        expectProblem(given().contentType(ContentType.JSON).body("{\"targetNode\":\"" + target + "\",\"downtimeLimitMs\":\"fast\"}")
                .post("/api/v1/vms/" + vm + "/migrations"), 400, "downtimeLimitMs");
        expectProblem(given().contentType(ContentType.JSON).body("{\"targetNode\":\"" + target + "\",\"downtimeLimitMs\":2.5}")
                .post("/api/v1/vms/" + vm + "/migrations"), 400, "downtimeLimitMs");
        expectProblem(given().contentType(ContentType.JSON).body("{\"targetNode\":7}")
                .post("/api/v1/vms/" + vm + "/migrations"), 400, "targetNode");
        expectProblem(given().contentType(ContentType.TEXT).body("targetNode=" + target)
                .post("/api/v1/vms/" + vm + "/migrations"), 415, null);
        assertUnchanged(vm);
    }

    @Test
    void invalidValuesAndAnUnregisteredTargetAreUnprocessable() {
        UUID vm = runningVmOn(source);
        for (long limit : new long[] {0, -5, 60_001, 99_999_999_999L}) {
            expectProblem(migrate(vm, "{\"targetNode\":\"" + target + "\",\"downtimeLimitMs\":" + limit + "}"), 422,
                    "downtimeLimitMs").body("detail", containsString("between 1 and 60000"));
        }
        expectProblem(migrate(vm, "{\"downtimeLimitMs\":50}"), 422, "targetNode")
                .body("detail", containsString("targetNode is required"));
        expectProblem(migrate(vm, "{\"targetNode\":\"  \"}"), 422, "targetNode");
        expectProblem(migrate(vm, "no-such-node-anywhere", null), 422, "targetNode")
                .body("detail", containsString("no node named 'no-such-node-anywhere' is registered"));
        assertUnchanged(vm);
    }

    @Test
    void anUnknownVmOrMigrationIsNotFound() {
        String unknown = UUID.randomUUID().toString();
        expectProblem(migrate(UUID.fromString(unknown), target, null), 404, null).body("detail", containsString(unknown));
        expectProblem(given().contentType(ContentType.JSON).body("{\"targetNode\":\"" + target + "\"}")
                .post("/api/v1/vms/not-an-id/migrations").then(), 404, null);
        expectProblem(given().get("/api/v1/vms/" + unknown + "/migrations").then(), 404, null);
        expectProblem(given().get("/api/v1/migrations/" + unknown).then(), 404, null)
                .body("detail", equalTo("no migration with id " + unknown));
        expectProblem(given().get("/api/v1/migrations/not-an-id").then(), 404, null);
        expectProblem(given().delete("/api/v1/migrations/" + unknown).then(), 404, null);
        expectProblem(given().delete("/api/v1/migrations/not-an-id").then(), 404, null);
    }

    @Test
    void theVmsStateRefusesWithAConflict() {
        UUID stopped = UUID.fromString(VmResourceTest.createVm(VmResourceTest.vmJson(uniqueName("mig-stopped"), "latest", 1, 1, 1, 1, null)));
        expectProblem(migrate(stopped, target, null), 409, null).body("detail", containsString("only a running VM"));
        assertThat(phaseOf(stopped)).isEqualTo(VmPhase.STOPPED);

        UUID vm = runningVmOn(source);
        expectProblem(migrate(vm, source, null), 409, null).body("detail", containsString("already runs on node " + source));
        UUID first = migrationOf(vm, target);
        expectProblem(migrate(vm, nodes.register(FakeNode.live(uniqueName("dst2"))), null), 409, null)
                .body("detail", containsString("already being migrated"))
                .body("detail", containsString(first.toString()));

        UUID onDeadNode = runningVmOn(nodes.register(FakeNode.live(uniqueName("src-dead")).dead()));
        expectProblem(migrate(onDeadNode, target, null), 409, null).body("detail", containsString("not live"));
        assertUnchanged(onDeadNode);
    }

    @Test
    void aTargetThatIsDeadRunsNoVmsOrPublishesNoAllocatableIsAConflict() {
        UUID vm = runningVmOn(source);
        String dead = nodes.register(FakeNode.live(uniqueName("dead")).dead());
        expectProblem(migrate(vm, dead, null), 409, null).body("detail", containsString("node " + dead + " is not live"));
        String noKvm = nodes.register(FakeNode.live(uniqueName("nokvm")).runningNoVms("/dev/kvm does not exist"));
        expectProblem(migrate(vm, noKvm, null), 409, null).body("detail", containsString("cannot run VMs: /dev/kvm does not exist"));
        String older = nodes.register(FakeNode.live(uniqueName("older")).offering(null, null));
        expectProblem(migrate(vm, older, null), 409, null).body("detail", containsString("older quarkvm"));
        assertUnchanged(vm);
    }

    @Test
    void aTargetThatCanNeverRunTheVmIsUnprocessable() {
        UUID sparseApicIds = runningVmOn(source, VmResourceTest.vmJson(uniqueName("mig-sparse"), "quarkvm-2.0", 2, 1, 3, 2, null));
        String implicit = nodes.register(FakeNode.live(uniqueName("implicit")).through(VpIndexProvider.KERNEL_IMPLICIT, MigrationFixtures.IMPLICIT));
        expectProblem(migrate(sparseApicIds, implicit, null), 422, "targetNode")
                .body("detail", containsString("KERNEL_IMPLICIT")).body("detail", containsString("sparse APIC IDs"));
        String fewVcpus = nodes.register(FakeNode.live(uniqueName("few-vcpus")).offering(4096, 8));
        expectProblem(migrate(sparseApicIds, fewVcpus, null), 422, "targetNode")
                .body("detail", containsString("12 vCPU slots")).body("detail", containsString("at most 8 vCPUs"));
        String littleMemory = nodes.register(FakeNode.live(uniqueName("little-memory")).offering(16, 64));
        expectProblem(migrate(sparseApicIds, littleMemory, null), 422, "targetNode")
                .body("detail", containsString("needs 32 MiB")).body("detail", containsString("offers 16 MiB"));
        assertUnchanged(sparseApicIds);

        UUID denseTopology = runningVmOn(source, VmResourceTest.vmJson(uniqueName("mig-dense"), "quarkvm-2.0", 2, 1, 2, 2, null));
        migrate(denseTopology, implicit, null).statusCode(202);
    }

    @Test
    void aWaitingReadAnswersWhenTheMigrationEndsOrTheWaitIsOver() throws Exception {
        UUID vm = runningVmOn(source);
        UUID id = migrationOf(vm, target);
        long before = System.nanoTime();
        given().get("/api/v1/migrations/" + id + "?wait=0.5s").then().statusCode(200).body("phase", equalTo("SETUP"));
        assertThat(Duration.ofNanos(System.nanoTime() - before)).isGreaterThanOrEqualTo(Duration.ofMillis(450));

        CompletableFuture<JsonPath> waiting = CompletableFuture.supplyAsync(() ->
                given().get("/api/v1/migrations/" + id + "?wait=30").then().statusCode(200).extract().jsonPath());
        long waitStarted = System.nanoTime();
        awaitWaiterArrived();
        assertThat(records.beginPrecopy(id)).isTrue();
        assertThat(waiting).as("PRECOPY has not ended it").isNotDone();
        given().delete("/api/v1/migrations/" + id).then().statusCode(200);
        assertThat(waiting.get(10, TimeUnit.SECONDS).getString("phase")).isEqualTo("CANCELLED");
        assertThat(Duration.ofNanos(System.nanoTime() - waitStarted)).isLessThan(Duration.ofSeconds(10));

        expectProblem(given().get("/api/v1/migrations/" + id + "?wait=soon").then(), 400, "wait");
        expectProblem(given().get("/api/v1/migrations/" + id + "?wait=301").then(), 422, "wait");
        given().get("/api/v1/migrations/" + id + "?wait=5").then().statusCode(200).body("phase", equalTo("CANCELLED"));
    }

    /**
     * Gives the waiting GET time to read the migration before it changes, so that what it answers is what it was woken
     * for (an answer read after the cancel would be CANCELLED too, only without having waited).
     */
    private static void awaitWaiterArrived() throws InterruptedException {
        Thread.sleep(300);
    }

    @Test
    void aCancelBeforeTheHandoverLeavesTheVmRunningOnItsSource() {
        UUID vm = runningVmOn(source);
        UUID inSetup = migrationOf(vm, target);
        given().delete("/api/v1/migrations/" + inSetup).then().statusCode(200).contentType(ContentType.JSON)
                .body("id", equalTo(inSetup.toString())).body("phase", equalTo("CANCELLED"))
                .body("error", equalTo("cancelled on request")).body("endedAt", notNullValue());
        assertUnchanged(vm);
        expectProblem(given().delete("/api/v1/migrations/" + inSetup).then(), 409, null)
                .body("detail", containsString("is CANCELLED: it has ended"));

        UUID inPrecopy = migrationOf(vm, target);
        assertThat(records.beginPrecopy(inPrecopy)).isTrue();
        given().delete("/api/v1/migrations/" + inPrecopy).then().statusCode(200).body("phase", equalTo("CANCELLED"));
        assertUnchanged(vm);
    }

    @Test
    void onceTheHandoverHasBegunACancelIsAConflict() {
        UUID vm = runningVmOn(source);
        UUID id = migrationOf(vm, target);
        assertThat(records.beginPrecopy(id)).isTrue();
        assertThat(records.enterStopAndCopy(id, true, 1, 4096, 0, 0)).isTrue();
        expectProblem(given().delete("/api/v1/migrations/" + id).then(), 409, null)
                .body("detail", containsString("STOP_AND_COPY")).body("detail", containsString("can no longer be cancelled"));
        given().get("/api/v1/migrations/" + id).then().body("phase", equalTo("STOP_AND_COPY"));
        assertThat(phaseOf(vm)).isEqualTo(VmPhase.MIGRATING_OUT);

        assertThat(records.end(id, MigrationPhase.FAILED, "the target went away")).isTrue();
        expectProblem(given().delete("/api/v1/migrations/" + id).then(), 409, null)
                .body("detail", containsString("is FAILED: it has ended"));
    }

    @Test
    void aVmsMigrationsAreListedNewestFirst() {
        UUID vm = runningVmOn(source);
        UUID other = runningVmOn(source);
        List<String> created = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            UUID id = migrationOf(vm, target);
            created.add(0, id.toString());
            if (i < 2) {
                given().delete("/api/v1/migrations/" + id).then().statusCode(200);
            }
        }
        migrationOf(other, target);
        given().get("/api/v1/vms/" + vm + "/migrations").then().statusCode(200)
                .body("items.id", equalTo(created))
                .body("items.phase", equalTo(List.of("SETUP", "CANCELLED", "CANCELLED")));
        UUID never = runningVmOn(source);
        given().get("/api/v1/vms/" + never + "/migrations").then().statusCode(200).body("items", equalTo(List.of()));
    }

    @Test
    void aViewerReadsMigrationsButOnlyAnOperatorRequestsOrCancelsThem() {
        UUID vm = runningVmOn(source);
        UUID id = migrationOf(vm, target);
        TestCredentials.viewer().get("/api/v1/migrations/" + id).then().statusCode(200);
        TestCredentials.viewer().get("/api/v1/vms/" + vm + "/migrations").then().statusCode(200);
        TestCredentials.viewer().delete("/api/v1/migrations/" + id).then().statusCode(403).contentType("application/problem+json");
        UUID other = runningVmOn(source);
        TestCredentials.viewer().contentType(ContentType.JSON).body("{\"targetNode\":\"" + target + "\"}")
                .post("/api/v1/vms/" + other + "/migrations").then().statusCode(403);
        TestCredentials.anonymous().get("/api/v1/migrations/" + id).then().statusCode(401);
        assertUnchanged(other);
        given().get("/api/v1/migrations/" + id).then().body("phase", equalTo("SETUP"));
    }

    @Test
    void whileMigratingOutTheVmsVcpusAndStateStayAsTheyAre() {
        UUID vm = runningVmOn(source, VmResourceTest.vmJson(uniqueName("mig-plug"), "latest", 1, 1, 4, 1, 2));
        UUID id = migrationOf(vm, target);
        expectProblem(given().contentType(ContentType.JSON).body(Map.of("socket", 0, "core", 2, "thread", 0))
                .post("/api/v1/vms/" + vm + "/vcpus").then(), 409, null).body("detail", containsString("MIGRATING_OUT"));
        expectProblem(given().delete("/api/v1/vms/" + vm + "/vcpus/1").then(), 409, null)
                .body("detail", containsString("while a migration hands it over"));
        expectProblem(given().post("/api/v1/vms/" + vm + "/stop").then(), 409, null).body("detail", containsString("migration"));
        expectProblem(given().post("/api/v1/vms/" + vm + "/pause").then(), 409, null);
        given().get("/api/v1/vms/" + vm).then().body("vcpus.plugged", equalTo(List.of(true, true)));

        given().delete("/api/v1/migrations/" + id).then().statusCode(200);
        given().contentType(ContentType.JSON).body(Map.of("socket", 0, "core", 2, "thread", 0))
                .post("/api/v1/vms/" + vm + "/vcpus").then().statusCode(200);
    }

    @Test
    void ofConcurrentRequestsForOneVmExactlyOneIsRecorded() throws Exception {
        UUID vm = runningVmOn(source);
        int requests = 8;
        CountDownLatch ready = new CountDownLatch(requests);
        ExecutorService pool = Executors.newFixedThreadPool(requests);
        try {
            List<Future<Integer>> statuses = new ArrayList<>();
            for (int i = 0; i < requests; i++) {
                String to = i % 2 == 0 ? target : nodes.register(FakeNode.live(uniqueName("dst-race")));
                statuses.add(pool.submit(() -> {
                    ready.countDown();
                    ready.await();
                    return migrate(vm, to, null).extract().statusCode();
                }));
            }
            List<Integer> answered = new ArrayList<>();
            for (Future<Integer> status : statuses) {
                answered.add(status.get(30, TimeUnit.SECONDS));
            }
            assertThat(answered).filteredOn(status -> status == 202).hasSize(1);
            assertThat(answered).filteredOn(status -> status == 409).hasSize(requests - 1);
        } finally {
            pool.shutdownNow();
        }
        given().get("/api/v1/vms/" + vm + "/migrations").then().body("items.size()", equalTo(1));
    }

    /** The database's own guard, for requests that got past the checks on two nodes at once. */
    @Test
    void theDatabaseHoldsAtMostOneUnfinishedMigrationPerVm() throws SQLException {
        UUID vm = runningVmOn(source);
        UUID first = migrationOf(vm, target);
        assertThatThrownBy(() -> insertMigration(vm, "SETUP")).isInstanceOf(SQLException.class)
                .hasMessageContaining("migration_one_unfinished_per_vm");
        given().delete("/api/v1/migrations/" + first).then().statusCode(200);
        insertMigration(vm, "PRECOPY");
        assertThatThrownBy(() -> insertMigration(vm, "STOP_AND_COPY")).isInstanceOf(SQLException.class)
                .hasMessageContaining("migration_one_unfinished_per_vm");
    }

    private void insertMigration(UUID vm, String phase) throws SQLException {
        try (Connection connection = database.getConnection(); Statement statement = connection.createStatement()) {
            statement.execute("INSERT INTO migration (id, vm_id, source_node, target_node, phase, downtime_limit_ms, "
                    + "started_at, version) VALUES ('" + UUID.randomUUID() + "', '" + vm + "', '" + source + "', '"
                    + target + "', '" + phase + "', 50, now(), 0)");
        }
    }

    @Test
    void eachChangeIsAMigrationEventOfTheVm() {
        long after = events.lastId();
        UUID vm = runningVmOn(source);
        UUID id = migrationOf(vm, target);
        assertThat(records.beginPrecopy(id)).isTrue();
        assertThat(records.recordRound(id, 1, 4096, 7, 1.5)).isTrue();
        given().delete("/api/v1/migrations/" + id).then().statusCode(200);

        List<JsonPath> logged = events.readAfter(after, 1000).events().stream()
                .filter(event -> event.vmId().equals(vm) && event.type().equals("migration"))
                .map(event -> JsonPath.from(event.payload())).toList();
        assertThat(logged).extracting(event -> event.getString("migration.phase"))
                .containsExactly("SETUP", "PRECOPY", "PRECOPY", "CANCELLED");
        assertThat(logged).extracting(event -> event.getString("phase"))
                .as("the VM's phase beside the migration's").containsExactly("MIGRATING_OUT", "MIGRATING_OUT", "MIGRATING_OUT", "RUNNING");
        assertThat(logged.get(2).getInt("migration.rounds")).isEqualTo(1);
        assertThat(logged.get(2).getLong("migration.bytesSent")).isEqualTo(4096);
        assertThat(logged.get(3).getString("migration.error")).isEqualTo("cancelled on request");
        assertThat(logged).allSatisfy(event -> {
            assertThat(event.getString("vmId")).isEqualTo(vm.toString());
            assertThat(event.getString("migration.id")).isEqualTo(id.toString());
            assertThat(event.getString("node")).isEqualTo(source);
        });
    }

    @Test
    void theEventStreamFilteredByVmCarriesItsMigrations() throws Exception {
        UUID vm = runningVmOn(source);
        UUID other = runningVmOn(source);
        try (SseSubscriber subscriber = new SseSubscriber(new URL(eventStream + "?vm=" + vm))) {
            assertThat(subscriber.awaitConnected(30)).isTrue();
            migrationOf(other, target);
            UUID id = migrationOf(vm, target);
            given().delete("/api/v1/migrations/" + id).then().statusCode(200);
            EventStreamTest.awaitReceived(subscriber, 2);
            List<String> data = subscriber.received().stream().map(SseSubscriber.Received::data).toList();
            assertThat(data.get(0)).contains("\"type\":\"migration\"", "\"vmId\":\"" + vm + "\"",
                    "\"id\":\"" + id + "\"", "\"phase\":\"SETUP\"", "\"targetNode\":\"" + target + "\"");
            assertThat(data.get(1)).contains("\"type\":\"migration\"", "\"phase\":\"CANCELLED\"", "\"phase\":\"RUNNING\"");
        }
    }

    @Test
    void eachBootNamesTheNodeItOpenedOn() {
        UUID vm = runningVmOn(source);
        JsonPath boot = given().get("/api/v1/vms/" + vm + "/guest-identity").then().statusCode(200).extract().jsonPath()
                .setRootPath("boots[0]");
        assertThat(boot.getString("node")).isEqualTo(source);
        assertThat(boot.getList("residences")).hasSize(1);
        assertThat(boot.getString("residences[0].node")).isEqualTo(source);
        assertThat(boot.getString("residences[0].hypervisor")).isEqualTo("KVM");
        assertThat(boot.getString("residences[0].provider")).isEqualTo("USERSPACE_MSR");
        assertThat(boot.getString("residences[0].arrivedAt")).isEqualTo(boot.getString("startedAt"));
        assertThat(boot.getString("residences[0].migrationId")).isNull();
    }

    @Test
    void thisNodePublishesItsMemoryAndKvmVcpuLimitByDefault() throws IOException {
        JsonPath node = VmLifecycleTest.thisNode();
        long memTotalKib = Files.readAllLines(Path.of("/proc/meminfo")).stream().filter(line -> line.startsWith("MemTotal:"))
                .mapToLong(line -> Long.parseLong(line.replaceAll("[^0-9]", ""))).findFirst().orElseThrow();
        assertThat(node.getInt("memoryMiB")).isEqualTo(memTotalKib / 1024);
        assertThat(node.getInt("maxVcpus")).isEqualTo(node.getInt("capabilities.maxVcpus"));
    }

    private static void assertUnchanged(UUID vm) {
        assertThat(phaseOf(vm)).isEqualTo(VmPhase.RUNNING);
        given().get("/api/v1/vms/" + vm + "/migrations").then().statusCode(200)
                .body("items.findAll { it.phase in ['SETUP', 'PRECOPY', 'STOP_AND_COPY'] }.size()", equalTo(0));
        assertThat(nodeOf(vm)).isNotNull();
    }

    private static io.restassured.response.ValidatableResponse expectProblem(Response response, int status, String field) {
        return expectProblem(response.then(), status, field);
    }

    private static io.restassured.response.ValidatableResponse expectProblem(
            io.restassured.response.ValidatableResponse response, int status, String field) {
        response.statusCode(status).contentType("application/problem+json").body("status", equalTo(status))
                .body("type", notNullValue()).body("title", notNullValue()).body("detail", notNullValue());
        if (field != null) {
            response.body("field", equalTo(field));
        }
        return response;
    }
}
