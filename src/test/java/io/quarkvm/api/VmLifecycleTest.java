package io.quarkvm.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * VMs started through the API on this node's backend (KVM where /dev/kvm opens, else the software emulator); what
 * their probe guests read themselves.
 */
@QuarkusTest
class VmLifecycleTest {

    private static boolean backendAnnounced;

    @BeforeEach
    void requireGuests() {
        requireNodeThatRunsGuests();
    }

    /**
     * Skips the calling test, loudly, when this node cannot run VMs (neither /dev/kvm nor libunicorn.so.2), and says
     * which backend the guests run on.
     */
    static void requireNodeThatRunsGuests() {
        JsonPath node = thisNode();
        if (!node.getBoolean("canRunVms")) {
            System.err.println("SKIPPED (no backend to run guests): " + node.getString("reason"));
        } else if (!backendAnnounced) {
            backendAnnounced = true;
            System.out.println("guests run on the " + node.getString("hypervisor") + " backend");
        }
        assumeTrue(node.getBoolean("canRunVms"), "this node cannot run VMs: " + node.getString("reason"));
    }

    /** This test node's entry in GET /api/v1/nodes (application.properties names it for the tests). */
    static JsonPath thisNode() {
        return given().get("/api/v1/nodes").then().statusCode(200).extract().jsonPath()
                .setRootPath("items.find { it.name == 'test-node' }");
    }

    @Test
    void apicIdPolicyGuestsReadTheirApicIdAsVpIndex() {
        String id = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("kvm-apic"), "quarkvm-2.0", 2, 1, 3, 2, null));
        start(id);
        List<Map<String, Object>> vcpus = awaitAllReported(id, 12);
        for (Map<String, Object> vcpu : vcpus) {
            assertThat(vcpu.get("observedApicId")).isEqualTo(vcpu.get("apicId"));
            assertThat(vcpu.get("observedApicIdLeaf1")).isEqualTo(vcpu.get("apicId"));
            assertThat(vcpu.get("observedVpIndex")).isEqualTo(vcpu.get("apicId"));
            assertThat(vcpu.get("hypervLeavesFound")).isEqualTo(true);
            assertThat(vcpu.get("vpIndexWriteRefused")).as("a guest WRMSR of HV_X64_MSR_VP_INDEX takes #GP").isEqualTo(true);
        }
        assertThat(vcpus).extracting(v -> v.get("observedApicId")).containsExactly(0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13);
        stop(id);
    }

    @Test
    void slotIndexPolicyGuestsReadTheirSlotIndex() {
        String id = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("kvm-slot"), "quarkvm-3.0", 2, 1, 3, 2, null));
        start(id);
        List<Map<String, Object>> vcpus = awaitAllReported(id, 12);
        assertThat(vcpus).extracting(v -> v.get("observedVpIndex")).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
        assertThat(vcpus).extracting(v -> v.get("observedApicId")).containsExactly(0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13);
        stop(id);
    }

    /** 256 vCPUs on this 2-core host: every guest vCPU reads its own identity, and pause and stop still work. */
    @Test
    void aLargeVmRunsWithEveryIdentityRight() {
        String id = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("kvm-large"), "quarkvm-3.0", 4, 2, 16, 2, null));
        given().post("/api/v1/vms/" + id + "/start?wait=60").then().statusCode(200).body("phase", equalTo("RUNNING"));
        List<Map<String, Object>> vcpus = awaitAllReported(id, 256);
        assertThat(vcpus).allSatisfy(v -> {
            assertThat(v.get("observedVpIndex")).isEqualTo(v.get("vpIndex"));
            assertThat(v.get("observedApicId")).isEqualTo(v.get("apicId"));
        });
        assertThat(vcpus).extracting(v -> v.get("observedVpIndex")).doesNotHaveDuplicates();
        given().post("/api/v1/vms/" + id + "/pause?wait=30").then().statusCode(200).body("phase", equalTo("PAUSED"));
        stop(id);
    }

    @Test
    void legacyPolicyWithDiesGuestsReadTheirCpuIndex() {
        String id = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("kvm-legacy"), "quarkvm-1.0", 1, 2, 3, 1, 2));
        given().contentType(ContentType.JSON).body(Map.of("socket", 0, "die", 1, "core", 2, "thread", 0))
                .post("/api/v1/vms/" + id + "/vcpus").then().statusCode(200);
        start(id);
        List<Map<String, Object>> vcpus = awaitAllReported(id, 3);
        assertThat(vcpus).extracting(v -> v.get("cpuIndex")).containsExactly(0, 1, 2);
        assertThat(vcpus).extracting(v -> v.get("observedVpIndex")).containsExactly(0, 1, 2);
        assertThat(vcpus).extracting(v -> v.get("observedApicId")).containsExactly(0, 1, 0b1_10);
        stop(id);
    }

    @Test
    void withoutHypervTheGuestFindsNoLeavesAndReadsNoVpIndex() {
        String id = VmResourceTest.createVm("{\"name\":\"" + VmResourceTest.uniqueName("kvm-nohv")
                + "\",\"topology\":{\"sockets\":1,\"cores\":2,\"threads\":1},\"hyperv\":{\"vpindex\":false}}");
        start(id);
        List<Map<String, Object>> vcpus = awaitAllReported(id, 2);
        for (Map<String, Object> vcpu : vcpus) {
            assertThat(vcpu.get("hypervLeavesFound")).isEqualTo(false);
            assertThat(vcpu.get("observedVpIndex")).isNull();
            assertThat(vcpu.get("observedApicId")).isEqualTo(vcpu.get("apicId"));
        }
        stop(id);
    }

    @Test
    void onlyPluggedSlotsRunWhenFewerVcpusThanSlots() {
        String id = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("kvm-few"), "quarkvm-3.0", 2, 1, 2, 2, 3));
        start(id);
        List<Map<String, Object>> vcpus = awaitAllReported(id, 3);
        assertThat(vcpus).extracting(v -> v.get("observedVpIndex")).containsExactly(0, 1, 2);
        given().get("/api/v1/vms/" + id).then().body("node", notNullValue()).body("phase", equalTo("RUNNING"));
        stop(id);
    }

    @Test
    void pauseStopsHeartbeatsAndResumeRestartsThem() throws InterruptedException {
        String id = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("kvm-pause"), "latest", 1, 1, 1, 1, null));
        start(id);
        awaitHeartbeatsAbove(id, 0);
        given().post("/api/v1/vms/" + id + "/pause?wait=10").then().statusCode(200).body("phase", equalTo("PAUSED"));
        given().post("/api/v1/vms/" + id + "/pause").then().statusCode(200).body("phase", equalTo("PAUSED"));
        Thread.sleep(1500);
        long paused = heartbeats(id);
        Thread.sleep(1500);
        assertThat(heartbeats(id)).as("no heartbeat while paused").isEqualTo(paused);
        given().post("/api/v1/vms/" + id + "/start").then().statusCode(409).body("detail", containsString("resume"));
        given().post("/api/v1/vms/" + id + "/resume?wait=10").then().statusCode(200).body("phase", equalTo("RUNNING"));
        awaitHeartbeatsAbove(id, paused);
        stop(id);
    }

    /** Kicks queued on paused vCPU threads (pause, then stop) once ended the whole JVM. */
    @Test
    void aPausedVmStopsAndTheServiceCarriesOn() {
        String id = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("kvm-paused-stop"), "latest", 1, 1, 2, 1, null));
        start(id);
        given().post("/api/v1/vms/" + id + "/pause?wait=10").then().statusCode(200).body("phase", equalTo("PAUSED"));
        stop(id);
        given().get("/q/health/live").then().statusCode(200);
    }

    @Test
    void aTripleFaultCrashesOnlyItsOwnVm() {
        String healthy = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("kvm-healthy"), "latest", 1, 1, 1, 1, null));
        start(healthy);
        String faulty = VmResourceTest.createVm("{\"name\":\"" + VmResourceTest.uniqueName("kvm-faulty")
                + "\",\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1},\"guest\":{\"kind\":\"triple-fault\"}}");
        given().post("/api/v1/vms/" + faulty + "/start?wait=10").then().statusCode(202)
                .body("phase", equalTo("CRASHED")).body("lastError", containsString("triple fault"));
        long before = heartbeats(healthy);
        awaitHeartbeatsAbove(healthy, before);
        given().get("/api/v1/vms/" + healthy).then().body("phase", equalTo("RUNNING"));
        given().get("/q/health/live").then().statusCode(200);
        given().post("/api/v1/vms/" + faulty + "/stop?wait=5").then().statusCode(200).body("phase", equalTo("STOPPED"))
                .body("node", nullValue());
        stop(healthy);
    }

    /** The dirty-memory guest is the probe besides: every vCPU reports its identity and heartbeats. */
    @Test
    void aDirtyMemoryGuestReportsAndHeartbeatsAsTheProbeDoes() {
        String id = VmResourceTest.createVm("{\"name\":\"" + VmResourceTest.uniqueName("kvm-dirty")
                + "\",\"topology\":{\"sockets\":1,\"cores\":2,\"threads\":1},\"memoryMiB\":128,"
                + "\"guest\":{\"kind\":\"dirty-memory\"}}");
        given().get("/api/v1/vms/" + id).then().body("guest.kind", equalTo("dirty-memory"));
        start(id);
        List<Map<String, Object>> vcpus = awaitAllReported(id, 2);
        assertThat(vcpus).extracting(v -> v.get("observedVpIndex")).containsExactly(0, 1);
        awaitHeartbeatsAbove(id, heartbeats(id));
        stop(id);
    }

    /** A guest that crashes at every boot is restarted after 5 s, then 10 s, ...: never in a hot loop. */
    @Test
    void aVmThatKeepsCrashingBacksOff() throws InterruptedException {
        String id = VmResourceTest.createVm("{\"name\":\"" + VmResourceTest.uniqueName("kvm-crashloop")
                + "\",\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1},\"guest\":{\"kind\":\"triple-fault\"}}");
        given().post("/api/v1/vms/" + id + "/start?wait=10").then().statusCode(202).body("crashes.inARow", equalTo(1));
        Instant deadline = Instant.now().plus(Duration.ofSeconds(12));
        JsonPath vm = given().get("/api/v1/vms/" + id).then().extract().jsonPath();
        while (vm.getInt("crashes.inARow") < 2) {
            assertThat(Instant.now()).as("second crash of %s", id).isBefore(deadline);
            Thread.sleep(200);
            vm = given().get("/api/v1/vms/" + id).then().extract().jsonPath();
        }
        JsonPath identity = given().get("/api/v1/vms/" + id + "/guest-identity").then().extract().jsonPath();
        List<String> starts = identity.getList("boots.startedAt");
        assertThat(starts).hasSize(2);
        assertThat(Duration.between(Instant.parse(starts.get(0)), Instant.parse(starts.get(1)))).isGreaterThanOrEqualTo(Duration.ofSeconds(5));
        Instant secondCrash = Instant.parse(identity.getString("boots[1].endedAt"));
        assertThat(Duration.between(secondCrash, Instant.parse(vm.getString("crashes.restartNotBefore"))))
                .isBetween(Duration.ofSeconds(9), Duration.ofSeconds(11));
        given().post("/api/v1/vms/" + id + "/stop?wait=5").then().statusCode(200).body("phase", equalTo("STOPPED"));
    }

    /** Racing state requests are serialised: every answer is one the state machine allows, boots never overlap. */
    @Test
    void concurrentStateRequestsNeverRunAVmTwice() {
        String id = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("kvm-race"), "latest", 1, 1, 2, 1, null));
        List<String> actions = List.of("start", "stop", "pause", "resume", "start", "start", "stop", "resume");
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(8);
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        List<java.util.concurrent.Future<Integer>> requests = new java.util.ArrayList<>();
        for (int i = 0; i < 40; i++) {
            String action = actions.get(i % actions.size());
            requests.add(pool.submit(() -> {
                go.await();
                return given().post("/api/v1/vms/" + id + "/" + action).statusCode();
            }));
        }
        go.countDown();
        List<Integer> statuses = new java.util.ArrayList<>();
        for (java.util.concurrent.Future<Integer> request : requests) {
            try {
                statuses.add(request.get(60, java.util.concurrent.TimeUnit.SECONDS));
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        }
        pool.shutdownNow();
        assertThat(statuses).as("only what the state machine allows: recorded (202), nothing to do (200) or refused (409)")
                .allMatch(List.of(200, 202, 409)::contains).contains(202);
        given().post("/api/v1/vms/" + id + "/start?wait=20").then().statusCode(org.hamcrest.Matchers.anyOf(equalTo(200), equalTo(409)));
        given().post("/api/v1/vms/" + id + "/resume?wait=20");
        stop(id);
        JsonPath identity = given().get("/api/v1/vms/" + id + "/guest-identity").then().extract().jsonPath();
        List<String> starts = identity.getList("boots.startedAt");
        List<String> ends = identity.getList("boots.endedAt");
        assertThat(ends).doesNotContainNull();
        for (int i = 1; i < starts.size(); i++) {
            assertThat(Instant.parse(starts.get(i))).as("boot %d starts after boot %d ended", i + 1, i)
                    .isAfterOrEqualTo(Instant.parse(ends.get(i - 1)));
        }
    }

    @Test
    void theStateMachineRefusesWhatItForbidsAndRepeatsAreNoOps() {
        String id = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("kvm-states"), "latest", 1, 1, 1, 1, null));
        given().post("/api/v1/vms/" + id + "/pause").then().statusCode(409).contentType("application/problem+json");
        given().post("/api/v1/vms/" + id + "/resume").then().statusCode(409);
        given().post("/api/v1/vms/" + id + "/stop").then().statusCode(200).header("ETag", "\"0\"");
        given().post("/api/v1/vms/" + id + "/start?wait=abc").then().statusCode(400).body("field", equalTo("wait"));
        given().post("/api/v1/vms/" + id + "/start?wait=-1").then().statusCode(422).body("field", equalTo("wait"));
        given().post("/api/v1/vms/" + id + "/reboot").then().statusCode(404);
        start(id);
        given().post("/api/v1/vms/" + id + "/start").then().statusCode(200).body("phase", equalTo("RUNNING"));
        given().post("/api/v1/vms/" + id + "/resume").then().statusCode(200);
        given().delete("/api/v1/vms/" + id).then().statusCode(409).body("detail", containsString("stop it"));
        stop(id);
        given().post("/api/v1/vms/" + id + "/stop").then().statusCode(200).body("phase", equalTo("STOPPED"));
        given().get("/q/metrics").then().statusCode(200)
                .body(containsString("quarkvm_vm_start_seconds_count"))
                .body(containsString("quarkvm_vms_running"));
        given().delete("/api/v1/vms/" + id).then().statusCode(204);
    }

    @Test
    void eachStartIsANewBootWithTheSameIdentities() {
        String id = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("kvm-boots"), "quarkvm-2.0", 1, 1, 3, 1, 2));
        start(id);
        awaitAllReported(id, 2);
        stop(id);
        start(id);
        awaitAllReported(id, 2);
        JsonPath identity = given().get("/api/v1/vms/" + id + "/guest-identity").then().statusCode(200).extract().jsonPath();
        assertThat(identity.getList("boots.boot")).containsExactly(1, 2);
        String backend = thisNode().getString("hypervisor");
        assertThat(backend).isIn("KVM", "EMULATED");
        assertThat(identity.getList("boots.hypervisor")).as("the backend each boot ran on").containsExactly(backend, backend);
        assertThat(identity.getString("boots[0].endReason")).contains("stopped");
        assertThat(identity.getList("boots[1].vcpus.observedVpIndex")).isEqualTo(identity.getList("boots[0].vcpus.observedVpIndex"));
        assertThat(identity.getList("boots[1].vcpus.observedApicId")).isEqualTo(identity.getList("boots[0].vcpus.observedApicId"));
        stop(id);
    }

    static void start(String id) {
        given().post("/api/v1/vms/" + id + "/start?wait=20").then().statusCode(200)
                .body("phase", equalTo("RUNNING")).body("desiredState", equalTo("RUNNING")).body("node", notNullValue());
    }

    static void stop(String id) {
        given().post("/api/v1/vms/" + id + "/stop?wait=20").then().statusCode(200).body("phase", equalTo("STOPPED"));
    }

    /** The latest boot's vCPUs, once each has reported what it read. */
    static List<Map<String, Object>> awaitAllReported(String id, int count) {
        return await(id, vcpus -> vcpus.size() == count && vcpus.stream().allMatch(v -> v.get("reportedAt") != null));
    }

    static long heartbeats(String id) {
        return latestBoot(id).stream().mapToLong(v -> ((Number) v.get("heartbeats")).longValue()).sum();
    }

    static void awaitHeartbeatsAbove(String id, long floor) {
        await(id, vcpus -> vcpus.stream().mapToLong(v -> ((Number) v.get("heartbeats")).longValue()).sum() > floor);
    }

    private static List<Map<String, Object>> await(String id, Predicate<List<Map<String, Object>>> condition) {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(20));
        List<Map<String, Object>> vcpus = latestBoot(id);
        while (!condition.test(vcpus)) {
            assertThat(Instant.now()).as("guest state of VM %s: %s", id, vcpus).isBefore(deadline);
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            vcpus = latestBoot(id);
        }
        return vcpus;
    }

    private static List<Map<String, Object>> latestBoot(String id) {
        JsonPath identity = given().get("/api/v1/vms/" + id + "/guest-identity").then().statusCode(200).extract().jsonPath();
        int boots = identity.getList("boots").size();
        return boots == 0 ? List.of() : identity.getList("boots[" + (boots - 1) + "].vcpus");
    }
}
