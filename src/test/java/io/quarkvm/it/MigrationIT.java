package io.quarkvm.it;

import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

/**
 * Live migration between two service processes on one database over real HTTP (issue 9): the guest's own proof
 * across many hops, and a node killed at each step of the handover. Node alpha holds the embedded database and is
 * never killed; beta is killed (quarkvm.migration.halt-at, which halts the JVM as SIGKILL would) and started again
 * on the same data directory.
 */
class MigrationIT {

    /** The handover steps, each with the node it kills: the VM starts on the other one, or on beta to kill the source. */
    enum Kill {
        SOURCE_PRECOPY(true), SOURCE_STOP_AND_COPY(true), SOURCE_HANDED_OVER(true),
        TARGET_BEFORE_COMMIT(false), TARGET_AFTER_COMMIT(false);

        final boolean betaIsSource;

        Kill(boolean betaIsSource) {
            this.betaIsSource = betaIsSource;
        }
    }

    private static Path work;
    private static ServiceProcess alpha;

    @BeforeAll
    static void startAlpha() throws Exception {
        work = Files.createTempDirectory("quarkvm-migration");
        alpha = new ServiceProcess(work.resolve("alpha"), Map.of("quarkvm.node.name", "alpha")).start();
        alpha.requireGuests();
    }

    @AfterAll
    static void stopAlpha() throws Exception {
        if (alpha != null) {
            alpha.close();
        }
    }

    private static ServiceProcess beta(Map<String, String> more) throws Exception {
        Map<String, String> settings = new HashMap<>(alpha.sharedDatabase());
        settings.put("quarkvm.node.name", "beta");
        settings.putAll(more);
        return new ServiceProcess(work.resolve("beta"), settings).start();
    }

    @Test
    void aVmMovesBackAndForthTenTimesAndItsGuestSeesNothingChange() throws Exception {
        try (ServiceProcess beta = beta(Map.of())) {
            String id = createAndStart(alpha, "hopper", 4);
            // Out of order: the slot of core 3 before the one of core 1, so cpu_index order is not slot order.
            plug(alpha, id, 3);
            plug(alpha, id, 1);
            awaitHeartbeats(alpha, id, 0, 1, 2); // cpu_index 1 is core 3, 2 is core 1
            ServiceProcess[] nodes = {alpha, beta};
            String[] names = {"alpha", "beta"};
            Map<Integer, Long> before = heartbeats(alpha, id);
            for (int hop = 1; hop <= 10; hop++) {
                String target = names[hop % 2];
                JsonPath migration = migrate(nodes[(hop + 1) % 2], id, target);
                assertThat(migration.getString("phase")).as("hop %d: %s", hop, migration.prettify()).isEqualTo("COMPLETED");
                assertThat(migration.getInt("rounds")).isPositive();
                assertThat(migration.getBoolean("converged")).as("an idle guest's remainder fits 50 ms").isTrue();
                assertThat(migration.getLong("downtimeMs")).isNotNegative();
                // Both nodes read this host's clock: the guest's own downtime, within the source's measure of it.
                Duration guestDowntime = Duration.between(Instant.parse(migration.getString("pausedAt")),
                        Instant.parse(migration.getString("resumedAt")));
                assertThat(guestDowntime).as("hop %d", hop).isPositive()
                        .isLessThanOrEqualTo(Duration.ofMillis(migration.getLong("downtimeMs") + 1));
                alpha.api().get("/api/v1/vms/" + id).then().body("node", equalTo(target)).body("phase", equalTo("RUNNING"));
                assertThat(runningVms(nodes[hop % 2])).as("hop %d: runs on %s", hop, target).isEqualTo(1.0);
                assertThat(runningVms(nodes[(hop + 1) % 2])).as("hop %d: and nowhere else", hop).isEqualTo(0.0);
                Map<Integer, Long> after = awaitHeartbeatsAbove(alpha, id, before);
                before = after;
            }
            JsonPath identity = alpha.api().get("/api/v1/vms/" + id + "/guest-identity").then().statusCode(200)
                    .extract().jsonPath();
            assertThat(identity.getList("boots")).as("a migration is not a new boot").hasSize(1);
            assertThat(identity.getList("boots[0].residences.node"))
                    .as("the nodes the boot ran on, in order").hasSize(11).startsWith("alpha", "beta", "alpha");
            assertThat(identity.getList("boots[0].vcpus.violations", Integer.class)).containsOnly(0);
            assertThat(identity.getList("boots[0].vcpus.cpuIndex", Integer.class)).containsExactly(0, 1, 2);
            alpha.api().get("/api/v1/vms/" + id + "/migrations").then().statusCode(200)
                    .body("items.size()", equalTo(10)).body("items.phase.unique()", org.hamcrest.Matchers.contains("COMPLETED"));
            stopAndDelete(alpha, id);
        }
    }

    @ParameterizedTest
    @EnumSource(Kill.class)
    void aNodeKilledAtAnyHandoverStepLeavesTheVmRunningOnExactlyOneNode(Kill kill) throws Exception {
        ServiceProcess beta = beta(Map.of("quarkvm.migration.halt-at", kill.name()));
        String id;
        try {
            ServiceProcess source = kill.betaIsSource ? beta : alpha;
            id = createAndStart(source, "killed-at-" + kill.name().toLowerCase().replace('_', '-'), 2);
            awaitHeartbeats(alpha, id, 0);
            String location = alpha.api().contentType("application/json")
                    .body("{\"targetNode\":\"" + (kill.betaIsSource ? "alpha" : "beta") + "\"}")
                    .post("/api/v1/vms/" + id + "/migrations").then().statusCode(202).extract().header("Location");
            Await.until("beta halted at " + kill, Duration.ofSeconds(60), () -> !beta.isAlive());
            String migrationPath = location.substring(location.indexOf("/api/"));
            JsonPath ended = JsonPath.from(alpha.api().get(migrationPath + "?wait=60").then().statusCode(200)
                    .extract().asString());
            String expectedPhase = kill == Kill.SOURCE_HANDED_OVER || kill == Kill.TARGET_AFTER_COMMIT
                    ? "COMPLETED" : "FAILED";
            if (kill == Kill.SOURCE_PRECOPY || kill == Kill.SOURCE_STOP_AND_COPY) {
                // The target saw the stream break and recorded it; the VM stays the dead source's until it returns.
                assertThat(ended.getString("phase")).isEqualTo("FAILED");
                assertThat(ended.getString("error")).isNotBlank();
            } else {
                assertThat(ended.getString("phase")).as(ended.prettify()).isEqualTo(expectedPhase);
            }
        } finally {
            beta.close();
        }
        try (ServiceProcess betaAgain = beta(Map.of())) {
            String owner = expectedOwner(kill);
            alpha.api().get("/api/v1/vms/" + id + "?wait=0").then().statusCode(200);
            Await.until("VM " + id + " RUNNING on " + owner, Duration.ofSeconds(60), () -> {
                JsonPath vm = alpha.api().get("/api/v1/vms/" + id).then().extract().jsonPath();
                return owner.equals(vm.getString("node")) && "RUNNING".equals(vm.getString("phase"));
            });
            ServiceProcess runsIt = owner.equals("alpha") ? alpha : betaAgain;
            ServiceProcess other = owner.equals("alpha") ? betaAgain : alpha;
            assertThat(runningVms(runsIt)).isEqualTo(1.0);
            assertThat(runningVms(other)).as("never on two nodes").isEqualTo(0.0);
            awaitHeartbeatsAbove(alpha, id, Map.of());
            alpha.api().get("/api/v1/vms/" + id + "/migrations").then().statusCode(200)
                    .body("items[0].phase", org.hamcrest.Matchers.not(equalTo("PRECOPY")));
            stopAndDelete(alpha, id);
        }
    }

    /** Where the VM must end up running when beta dies at {@code kill} and comes back. */
    private static String expectedOwner(Kill kill) {
        return switch (kill) {
            case SOURCE_PRECOPY, SOURCE_STOP_AND_COPY -> "beta";   // back on its source, cold-booted when beta returns
            case SOURCE_HANDED_OVER -> "alpha";                    // the target had taken it over
            case TARGET_BEFORE_COMMIT -> "alpha";                  // the source resumed its own copy
            case TARGET_AFTER_COMMIT -> "beta";                    // the target owns it and cold-boots it on return
        };
    }

    /**
     * Refused before a byte moves, each for what it is: the source itself, an unknown node, and a real node (beta on
     * the kernel double of a KVM with in-kernel Hyper-V, so its VP index provider is KERNEL_IMPLICIT) that offers
     * too little memory or too few vCPUs, or cannot honour a sparse APIC_ID policy.
     */
    @Test
    void refusalsAreAnsweredBeforeAnythingMoves() throws Exception {
        try (ServiceProcess beta = beta(Map.of("quarkvm.node.kernel-hyperv", "IMPLICIT",
                "quarkvm.node.force-provider", "KERNEL_IMPLICIT", "quarkvm.node.memory-mib", "128",
                "quarkvm.node.max-vcpus", "6"))) {
            String id = createAndStart(alpha, "refused", 2);
            refused(id, "alpha", 409, "alpha");
            refused(id, "nowhere", 422, "nowhere");
            String big = create(alpha, "refused-memory", "quarkvm-3.0", 256, 1, 1, 2);
            refused(big, "beta", 422, "memory");
            String wide = create(alpha, "refused-vcpus", "quarkvm-3.0", 64, 1, 1, 8);
            refused(wide, "beta", 422, "vCPU");
            // 2 sockets of 3 cores: APIC IDs 0-2 and 4-6, which a VP index by creation order cannot follow.
            String sparse = create(alpha, "refused-sparse", "quarkvm-2.0", 64, 1, 2, 3);
            refused(sparse, "beta", 422, "KERNEL_IMPLICIT");
            for (String vm : List.of(id, big, wide, sparse)) {
                alpha.api().get("/api/v1/vms/" + vm).then().body("node", equalTo("alpha")).body("phase", equalTo("RUNNING"));
                alpha.api().get("/api/v1/vms/" + vm + "/migrations").then().body("items.size()", equalTo(0));
                stopAndDelete(alpha, vm);
            }
            assertThat(runningVms(beta)).isEqualTo(0.0);
        }
    }

    private static void refused(String id, String target, int status, String named) {
        alpha.api().contentType("application/json").body("{\"targetNode\":\"" + target + "\"}")
                .post("/api/v1/vms/" + id + "/migrations").then().statusCode(status)
                .contentType("application/problem+json").body("detail", containsString(named));
    }

    /**
     * A guest that writes memory faster than the downtime limit allows never converges: after
     * quarkvm.migration.max-rounds (1 here, on the source, beta) the source stops and copies anyway, the migration
     * says so (converged false after the one pre-copy round allowed), and the VM arrives whole.
     */
    @Test
    void aGuestThatNeverConvergesIsStoppedAndCopiedAfterTheRoundLimitAndSaysSo() throws Exception {
        try (ServiceProcess beta = beta(Map.of("quarkvm.migration.max-rounds", "1"))) {
            String id = beta.api().contentType("application/json")
                    .body("{\"name\":\"never-converges\",\"machineType\":\"quarkvm-3.0\",\"memoryMiB\":128,"
                            + "\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1},"
                            + "\"guest\":{\"kind\":\"dirty-memory\"}}")
                    .post("/api/v1/vms").then().statusCode(201).extract().path("id");
            beta.api().post("/api/v1/vms/" + id + "/start?wait=30").then().statusCode(200)
                    .body("phase", equalTo("RUNNING")).body("node", equalTo("beta"));
            // Its 64 MiB working set written once (it writes 64 MiB a second), so that round 0 carries all of it and
            // what the guest writes meanwhile (some MiB) cannot be sent within the 1 ms limit.
            Thread.sleep(1500);
            String location = beta.api().contentType("application/json")
                    .body("{\"targetNode\":\"alpha\",\"downtimeLimitMs\":1}")
                    .post("/api/v1/vms/" + id + "/migrations").then().statusCode(202).extract().header("Location");
            JsonPath migration = JsonPath.from(beta.api().get(location.substring(location.indexOf("/api/"))
                    + "?wait=60").then().statusCode(200).extract().asString());
            assertThat(migration.getString("phase")).as(migration.prettify()).isEqualTo("COMPLETED");
            assertThat(migration.getBoolean("converged")).as("the round limit ended pre-copy").isFalse();
            assertThat(migration.getInt("rounds")).as("pre-copy rounds").isEqualTo(1);
            assertThat(migration.getLong("bytesSent")).as("its 64 MiB working set at least").isGreaterThan(64L << 20);
            assertThat(migration.getLong("dirtyPagesLastRound")).as("what it wrote during round 0").isPositive();
            alpha.api().get("/api/v1/vms/" + id).then().body("node", equalTo("alpha")).body("phase", equalTo("RUNNING"));
            assertThat(runningVms(beta)).isEqualTo(0.0);
            stopAndDelete(alpha, id);
        }
    }

    /**
     * The stream damaged between the nodes, a few KiB in (inside the memory of round 0): cut off, or one byte flipped.
     * The target builds nothing that runs, the migration ends FAILED with the reason, and the VM runs on its source,
     * the same boot, its heartbeats going on.
     */
    @ParameterizedTest
    @EnumSource(StreamTamperingProxy.Damage.class)
    void aStreamDamagedOnTheWayLeavesTheVmRunningOnItsSource(StreamTamperingProxy.Damage damage) throws Exception {
        try (StreamTamperingProxy proxy = new StreamTamperingProxy(20_000, damage);
             ServiceProcess beta = beta(Map.of("quarkvm.node.url", "http://localhost:" + proxy.port()))) {
            proxy.forwardTo(beta.httpPort());
            String id = createAndStart(alpha, "damaged-" + damage.name().toLowerCase().replace('_', '-'), 2);
            awaitHeartbeats(alpha, id, 0);
            Map<Integer, Long> before = heartbeats(alpha, id);
            JsonPath migration = migrate(alpha, id, "beta");
            assertThat(migration.getString("phase")).as(migration.prettify()).isEqualTo("FAILED");
            assertThat(migration.getString("error")).isNotBlank();
            if (damage == StreamTamperingProxy.Damage.FLIP_BYTE) {
                assertThat(migration.getString("error")).containsIgnoringCase("corrupt");
            }
            alpha.api().get("/api/v1/vms/" + id).then().body("node", equalTo("alpha")).body("phase", equalTo("RUNNING"));
            assertThat(runningVms(beta)).as("nothing runs on the target").isEqualTo(0.0);
            awaitHeartbeatsAbove(alpha, id, before);
            alpha.api().get("/api/v1/vms/" + id + "/guest-identity").then().body("boots.size()", equalTo(1));
            stopAndDelete(alpha, id);
        }
    }

    // ---- helpers ----------------------------------------------------------------------------------------------

    private static String createAndStart(ServiceProcess node, String name, int cores) {
        return create(node, name, "quarkvm-3.0", 64, 1, 1, cores);
    }

    /** A VM with {@code vcpus} of its slots plugged, started on {@code node}. */
    private static String create(ServiceProcess node, String name, String machineType, int memoryMiB, int vcpus,
                                 int sockets, int cores) {
        String id = node.api().contentType("application/json")
                .body("{\"name\":\"" + name + "\",\"machineType\":\"" + machineType + "\",\"memoryMiB\":" + memoryMiB
                        + ",\"topology\":{\"sockets\":" + sockets + ",\"cores\":" + cores + ",\"threads\":1},\"vcpus\":" + vcpus + "}")
                .post("/api/v1/vms").then().statusCode(201).extract().path("id");
        node.api().post("/api/v1/vms/" + id + "/start?wait=30").then().statusCode(200).body("phase", equalTo("RUNNING"));
        return id;
    }

    private static void plug(ServiceProcess node, String id, int core) {
        node.api().contentType("application/json").body("{\"socket\":0,\"die\":0,\"core\":" + core + ",\"thread\":0}")
                .post("/api/v1/vms/" + id + "/vcpus").then().statusCode(200);
    }

    private static JsonPath migrate(ServiceProcess via, String id, String target) {
        String location = via.api().contentType("application/json")
                .body("{\"targetNode\":\"" + target + "\",\"downtimeLimitMs\":50}")
                .post("/api/v1/vms/" + id + "/migrations").then().statusCode(202).extract().header("Location");
        return JsonPath.from(via.api().get(location.substring(location.indexOf("/api/")) + "?wait=60").then()
                .statusCode(200).extract().asString());
    }

    private static void stopAndDelete(ServiceProcess node, String id) {
        node.api().post("/api/v1/vms/" + id + "/stop?wait=30").then().statusCode(200);
        node.api().delete("/api/v1/vms/" + id).then().statusCode(204);
    }

    /** Heartbeats of the latest boot, by cpu_index, as last flushed by the node running it (every second). */
    private static Map<Integer, Long> heartbeats(ServiceProcess node, String id) {
        JsonPath identity = node.api().get("/api/v1/vms/" + id + "/guest-identity").then().statusCode(200)
                .extract().jsonPath();
        int last = identity.getList("boots").size() - 1;
        Map<Integer, Long> beats = new HashMap<>();
        List<Integer> cpus = identity.getList("boots[" + last + "].vcpus.cpuIndex", Integer.class);
        List<Long> counts = identity.getList("boots[" + last + "].vcpus.heartbeats", Long.class);
        for (int i = 0; i < cpus.size(); i++) {
            beats.put(cpus.get(i), counts.get(i));
        }
        return beats;
    }

    private static void awaitHeartbeats(ServiceProcess node, String id, Integer... cpuIndexes) throws InterruptedException {
        Await.until("heartbeats of " + List.of(cpuIndexes), Duration.ofSeconds(30), () -> {
            Map<Integer, Long> beats = heartbeats(node, id);
            return List.of(cpuIndexes).stream().allMatch(cpu -> beats.getOrDefault(cpu, 0L) > 0);
        });
    }

    /** Waits until every vCPU's heartbeat count has grown past {@code floor}: it went on, not from zero. */
    private static Map<Integer, Long> awaitHeartbeatsAbove(ServiceProcess node, String id, Map<Integer, Long> floor)
            throws InterruptedException {
        Map<Integer, Long>[] latest = new Map[1];
        Await.until("heartbeats above " + floor, Duration.ofSeconds(30), () -> {
            latest[0] = heartbeats(node, id);
            return !latest[0].isEmpty() && latest[0].entrySet().stream()
                    .allMatch(beat -> beat.getValue() > floor.getOrDefault(beat.getKey(), 0L));
        });
        return latest[0];
    }

    private static double runningVms(ServiceProcess service) {
        String metrics = service.api().get("/q/metrics").then().statusCode(200).extract().asString();
        return metrics.lines().filter(line -> line.startsWith("quarkvm_vms_running"))
                .mapToDouble(line -> Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1))).findFirst().orElseThrow();
    }
}
