package io.quarkvm.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.is;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;
import static org.assertj.core.api.Assertions.assertThat;

@QuarkusTest
class VmResourceTest {

    private static final AtomicInteger NAMES = new AtomicInteger();

    static String uniqueName(String prefix) {
        return prefix + "-" + NAMES.incrementAndGet() + "-" + System.nanoTime() % 100_000;
    }

    static String createVm(String json) {
        return given().contentType(ContentType.JSON).body(json).post("/api/v1/vms")
                .then().statusCode(201).extract().path("id");
    }

    static String vmJson(String name, String machineType, int sockets, int dies, int cores, int threads, Integer vcpus) {
        return "{\"name\":\"" + name + "\",\"machineType\":\"" + machineType + "\",\"topology\":{\"sockets\":" + sockets
                + ",\"dies\":" + dies + ",\"cores\":" + cores + ",\"threads\":" + threads + "}"
                + (vcpus == null ? "" : ",\"vcpus\":" + vcpus) + "}";
    }

    @Test
    void createAppliesTheDefaultsAndAnswersWithLocationAndEtag() {
        String name = uniqueName("defaults");
        var response = given().contentType(ContentType.JSON)
                .body("{\"name\":\"" + name + "\",\"topology\":{\"sockets\":1,\"cores\":2,\"threads\":1}}")
                .post("/api/v1/vms");
        response.then().statusCode(201)
                .header("Location", containsString("/api/v1/vms/"))
                .header("ETag", "\"0\"")
                .contentType(ContentType.JSON)
                .body("name", equalTo(name))
                .body("machineType", equalTo("quarkvm-3.0"))
                .body("vpIndexPolicy", equalTo("SLOT_INDEX"))
                .body("topology.dies", equalTo(1))
                .body("maxVcpus", equalTo(2))
                .body("vcpus", hasSize(2))
                .body("hyperv.vpindex", equalTo(true))
                .body("guest.kind", equalTo("probe"))
                .body("desiredState", equalTo("STOPPED"))
                .body("phase", equalTo("STOPPED"))
                .body("node", nullValue())
                .body("version", equalTo(0));
        String id = response.path("id");
        assertThat(response.header("Location")).endsWith("/api/v1/vms/" + id);
        given().get(response.header("Location")).then().statusCode(200).header("ETag", "\"0\"").body("id", equalTo(id));
    }

    @Test
    void apicIdMachineTypeGivesSparseApicIdsAsVpIndexes() {
        String id = createVm(vmJson(uniqueName("apic"), "quarkvm-2.0", 2, 1, 3, 2, null));
        given().get("/api/v1/vms/" + id).then().statusCode(200)
                .body("vpIndexPolicy", equalTo("APIC_ID"))
                .body("vcpus.cpuIndex", contains(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11))
                .body("vcpus.apicId", contains(0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13))
                .body("vcpus.vpIndex", contains(0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13))
                .body("vcpus.socket", contains(0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1))
                .body("vcpus.core", contains(0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2))
                .body("vcpus.thread", contains(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1));
    }

    @Test
    void slotIndexMachineTypeSurvivesOutOfOrderHotPlug() {
        String id = createVm(vmJson(uniqueName("slot"), "latest", 2, 1, 3, 2, 2));
        plug(id, 1, 0, 2, 1).statusCode(200);
        plug(id, 0, 0, 2, 0).statusCode(200);
        given().get("/api/v1/vms/" + id).then()
                .body("machineType", equalTo("quarkvm-3.0"))
                .body("vcpus.cpuIndex", contains(0, 1, 2, 3))
                .body("vcpus.apicId", contains(0, 1, 13, 4))
                .body("vcpus.vpIndex", contains(0, 1, 11, 4));
    }

    @Test
    void cpuIndexMachineTypeWithDiesGivesCreationOrder() {
        String id = createVm(vmJson(uniqueName("legacy"), "quarkvm-1.0", 1, 2, 3, 1, 1));
        plug(id, 0, 1, 2, 0).statusCode(200)
                .body("vcpus.find { it.cpuIndex == 1 }.apicId", equalTo(0b1_10))
                .body("vcpus.find { it.cpuIndex == 1 }.vpIndex", equalTo(1))
                .body("vcpus.find { it.cpuIndex == 1 }.die", equalTo(1));
    }

    @Test
    void unplugKeepsTheIdentityReservedAndReplugGetsItBack() {
        String id = createVm(vmJson(uniqueName("replug"), "quarkvm-1.0", 1, 1, 4, 1, 2));
        given().delete("/api/v1/vms/" + id + "/vcpus/1").then().statusCode(200)
                .header("ETag", "\"1\"")
                .body("vcpus.find { it.apicId == 1 }.plugged", is(false));
        plug(id, 0, 0, 3, 0).statusCode(200).body("vcpus.find { it.apicId == 3 }.cpuIndex", equalTo(2));
        plug(id, 0, 0, 1, 0).statusCode(200)
                .header("ETag", "\"3\"")
                .body("vcpus.find { it.apicId == 1 }.cpuIndex", equalTo(1))
                .body("vcpus.find { it.apicId == 1 }.vpIndex", equalTo(1))
                .body("vcpus.find { it.apicId == 1 }.plugged", is(true));
        given().delete("/api/v1/vms/" + id + "/vcpus/3").then().statusCode(200);
        given().delete("/api/v1/vms/" + id + "/vcpus/3").then().statusCode(200).header("ETag", "\"4\"");
    }

    @Test
    void plugFailuresChangeNothing() {
        String id = createVm(vmJson(uniqueName("plugfail"), "latest", 2, 1, 3, 2, 2));
        plug(id, 0, 0, 0, 1).statusCode(409).contentType("application/problem+json")
                .body("status", equalTo(409)).body("detail", containsString("already plugged"));
        plug(id, 0, 0, 3, 0).statusCode(422).contentType("application/problem+json").body("field", equalTo("slot"));
        plug(id, 2, 0, 0, 0).statusCode(422);
        plug(id, -1, 0, 0, 0).statusCode(422).body("field", equalTo("socket"));
        given().contentType(ContentType.JSON).body("{\"socket\":0,\"core\":0}").post("/api/v1/vms/" + id + "/vcpus")
                .then().statusCode(422).body("field", equalTo("thread"));
        given().contentType(ContentType.JSON).body("{\"socket\":0,\"core\":1,\"thread\":0,\"numa\":1}")
                .post("/api/v1/vms/" + id + "/vcpus").then().statusCode(400).body("field", equalTo("numa"));
        given().delete("/api/v1/vms/" + id + "/vcpus/6").then().statusCode(404).contentType("application/problem+json");
        given().delete("/api/v1/vms/" + id + "/vcpus/abc").then().statusCode(400).body("field", equalTo("apicId"));
        given().delete("/api/v1/vms/" + id + "/vcpus/0").then().statusCode(409).body("detail", containsString("boot vCPU"));
        given().get("/api/v1/vms/" + id).then().header("ETag", "\"0\"").body("vcpus", hasSize(2));
    }

    @Test
    void ifMatchGuardsEveryMutation() {
        String id = createVm(vmJson(uniqueName("ifmatch"), "latest", 1, 1, 4, 1, 1));
        given().header("If-Match", "\"5\"").contentType(ContentType.JSON).body(Map.of("socket", 0, "core", 1, "thread", 0))
                .post("/api/v1/vms/" + id + "/vcpus").then().statusCode(412).contentType("application/problem+json")
                .body("field", equalTo("If-Match"));
        given().header("If-Match", "\"0\"").contentType(ContentType.JSON).body(Map.of("socket", 0, "core", 1, "thread", 0))
                .post("/api/v1/vms/" + id + "/vcpus").then().statusCode(200).header("ETag", "\"1\"");
        given().header("If-Match", "\"0\"").delete("/api/v1/vms/" + id + "/vcpus/1").then().statusCode(412);
        given().header("If-Match", "not-a-tag").delete("/api/v1/vms/" + id + "/vcpus/1").then().statusCode(400);
        given().header("If-Match", "\"0\"").delete("/api/v1/vms/" + id).then().statusCode(412);
        given().get("/api/v1/vms/" + id).then().statusCode(200).header("ETag", "\"1\"")
                .body("vcpus.find { it.apicId == 1 }.plugged", is(true));
        given().header("If-Match", "\"1\"").delete("/api/v1/vms/" + id).then().statusCode(204);
        given().get("/api/v1/vms/" + id).then().statusCode(404).contentType("application/problem+json");
    }

    /** Parallel plugs of distinct slots without If-Match all land, one after the other, each with its own cpu_index. */
    @Test
    void concurrentPlugsAreSerialisedByTheRowLock() {
        String id = createVm(vmJson(uniqueName("race"), "quarkvm-1.0", 1, 1, 8, 1, 1));
        List<Integer> statuses = raceForCores(id, null);
        assertThat(statuses).containsOnly(200);
        given().get("/api/v1/vms/" + id).then()
                .header("ETag", "\"7\"")
                .body("vcpus.cpuIndex", contains(0, 1, 2, 3, 4, 5, 6, 7))
                .body("vcpus.findAll { it.vpIndex == it.cpuIndex }", hasSize(8));
    }

    /** Parallel plugs all naming version 0: exactly one wins, every other one is told its version is stale. */
    @Test
    void concurrentChangesWithTheSameIfMatchLetExactlyOneThrough() {
        String id = createVm(vmJson(uniqueName("ifmatch-race"), "quarkvm-1.0", 1, 1, 8, 1, 1));
        List<Integer> statuses = raceForCores(id, "\"0\"");
        assertThat(statuses).containsOnlyOnce(200);
        assertThat(statuses.stream().filter(status -> status == 412)).hasSize(6);
        given().get("/api/v1/vms/" + id).then().header("ETag", "\"1\"").body("vcpus", hasSize(2));
    }

    /** Plugs cores 1..7 from seven threads released together. */
    private static List<Integer> raceForCores(String id, String ifMatch) {
        ExecutorService pool = Executors.newFixedThreadPool(7);
        CountDownLatch go = new CountDownLatch(1);
        try {
            List<Future<Integer>> plugs = new ArrayList<>();
            for (int core = 1; core < 8; core++) {
                int c = core;
                plugs.add(pool.submit(() -> {
                    go.await();
                    var request = given().contentType(ContentType.JSON).body(Map.of("socket", 0, "core", c, "thread", 0));
                    if (ifMatch != null) {
                        request.header("If-Match", ifMatch);
                    }
                    return request.post("/api/v1/vms/" + id + "/vcpus").statusCode();
                }));
            }
            go.countDown();
            List<Integer> statuses = new ArrayList<>();
            for (Future<Integer> plug : plugs) {
                statuses.add(plug.get(30, TimeUnit.SECONDS));
            }
            return statuses;
        } catch (Exception e) {
            throw new AssertionError(e);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void badBodiesAreProblemsAndCreateNothing() {
        long before = total();
        String name = uniqueName("bad");
        expectProblem("{\"name\":\"" + name + "\",", 400, null);
        expectProblem("[1,2]", 400, null);
        expectProblem("", 400, null);
        expectProblem("{\"name\":\"" + name + "\",\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1},\"colour\":\"red\"}", 400, "colour");
        expectProblem("{\"name\":\"" + name + "\",\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1,\"numa\":2}}", 400, "topology.numa");
        expectProblem("{\"name\":\"" + name + "\",\"topology\":{\"sockets\":\"two\",\"cores\":1,\"threads\":1}}", 400, "topology.sockets");
        expectProblem("{\"name\":\"" + name + "\",\"topology\":{\"sockets\":1.5,\"cores\":1,\"threads\":1}}", 400, "topology.sockets");
        expectProblem("{\"name\":\"" + name + "\",\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1},\"hyperv\":{\"vpindex\":\"yes\"}}", 400, "hyperv.vpindex");
        expectProblem("{\"name\":\"" + name + "\",\"topology\":{\"sockets\":0,\"cores\":1,\"threads\":1}}", 422, "topology.sockets");
        expectProblem("{\"name\":\"" + name + "\",\"topology\":{\"sockets\":-2,\"cores\":1,\"threads\":1}}", 422, "topology.sockets");
        expectProblem("{\"name\":\"" + name + "\",\"topology\":{\"sockets\":1,\"cores\":99999999999999,\"threads\":1}}", 422, "topology.cores");
        expectProblem("{\"name\":\"" + name + "\",\"topology\":{\"sockets\":64,\"cores\":64,\"threads\":1}}", 422, "topology");
        expectProblem("{\"name\":\"" + name + "\",\"topology\":{\"sockets\":1,\"cores\":2,\"threads\":1},\"vcpus\":3}", 422, "vcpus");
        expectProblem("{\"name\":\"" + name + "\",\"topology\":{\"sockets\":1,\"cores\":2,\"threads\":1},\"vcpus\":0}", 422, "vcpus");
        expectProblem("{\"name\":\"" + name + "\",\"machineType\":\"pc-q35-9.0\",\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1}}", 422, "machineType");
        expectProblem("{\"name\":\"" + name + "\",\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1},\"memoryMiB\":0}", 422, "memoryMiB");
        expectProblem("{\"name\":\"" + name + "\",\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1},\"memoryMiB\":1099511627776}", 422, "memoryMiB");
        expectProblem("{\"name\":\"\",\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1}}", 422, "name");
        expectProblem("{\"name\":\"" + "x".repeat(64) + "\",\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1}}", 422, "name");
        expectProblem("{\"name\":\"bad\\u0000name\",\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1}}", 422, "name");
        expectProblem("{\"name\":\"" + name + "\"}", 422, "topology");
        expectProblem("{\"name\":\"" + name + "\",\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1},\"guest\":{\"kind\":\"windows\"}}", 422, "guest.kind");
        assertThat(total()).isEqualTo(before);
        given().get("/api/v1/vms?size=100").then().body("items.name", org.hamcrest.Matchers.not(org.hamcrest.Matchers.hasItem(name)));
    }

    @Test
    void aDuplicateNameIsAConflict() {
        String name = uniqueName("dup");
        createVm(vmJson(name, "latest", 1, 1, 1, 1, null));
        long before = total();
        expectProblem(vmJson(name, "quarkvm-1.0", 1, 1, 2, 1, null), 409, null);
        assertThat(total()).isEqualTo(before);
    }

    @Test
    void unknownVmsAreNotFound() {
        given().get("/api/v1/vms/00000000-0000-0000-0000-000000000000").then().statusCode(404)
                .contentType("application/problem+json").body("status", equalTo(404)).body("title", notNullValue());
        given().get("/api/v1/vms/not-a-uuid").then().statusCode(404).contentType("application/problem+json");
        given().delete("/api/v1/vms/00000000-0000-0000-0000-000000000000").then().statusCode(404);
        plug("00000000-0000-0000-0000-000000000000", 0, 0, 0, 0).statusCode(404);
        given().delete("/api/v1/vms/00000000-0000-0000-0000-000000000000/vcpus/0").then().statusCode(404);
    }

    @Test
    void listPagesInCreationOrder() {
        String first = createVm(vmJson(uniqueName("page-a"), "latest", 1, 1, 1, 1, null));
        String second = createVm(vmJson(uniqueName("page-b"), "latest", 1, 1, 1, 1, null));
        long total = total();
        given().get("/api/v1/vms?page=" + (total - 2) + "&size=1").then().statusCode(200)
                .body("items", hasSize(1)).body("items[0].id", equalTo(first))
                .body("total", equalTo((int) total)).body("page", equalTo((int) total - 2)).body("size", equalTo(1));
        given().get("/api/v1/vms?page=" + (total - 1) + "&size=1").then().body("items[0].id", equalTo(second))
                .body("items[0].vcpus", hasSize(1));
        given().get("/api/v1/vms?page=" + total + "&size=1").then().statusCode(200).body("items", hasSize(0));
        given().get("/api/v1/vms").then().statusCode(200).body("page", equalTo(0)).body("size", equalTo(20));
        given().get("/api/v1/vms?page=-1").then().statusCode(422).body("field", equalTo("page"));
        given().get("/api/v1/vms?page=30000000").then().statusCode(422).body("field", equalTo("page"));
        given().get("/api/v1/vms?size=0").then().statusCode(422).body("field", equalTo("size"));
        given().get("/api/v1/vms?size=101").then().statusCode(422).body("field", equalTo("size"));
        given().get("/api/v1/vms?page=abc").then().statusCode(400).contentType("application/problem+json")
                .body("field", equalTo("page"));
    }

    @Test
    void machineTypesListEachPolicyAndTheLatestAlias() {
        given().get("/api/v1/machine-types").then().statusCode(200)
                .body("items.name", contains("quarkvm-1.0", "quarkvm-2.0", "quarkvm-3.0"))
                .body("items.vpIndexPolicy", contains("CPU_INDEX", "APIC_ID", "SLOT_INDEX"))
                .body("items[2].aliases", contains("latest"))
                .body("items[0].description", containsString("creation order"));
    }

    @Test
    void operationalEndpointsAnswer() {
        given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"));
        given().get("/q/openapi?format=json").then().statusCode(200).body("paths", notNullValue());
        given().get("/q/metrics").then().statusCode(200).body(containsString("http_server_requests"));
    }

    private static ValidatableResponse plug(String id, int socket, int die, int core, int thread) {
        return given().contentType(ContentType.JSON)
                .body(Map.of("socket", socket, "die", die, "core", core, "thread", thread))
                .post("/api/v1/vms/" + id + "/vcpus").then();
    }

    private static void expectProblem(String body, int status, String field) {
        var response = given().contentType(ContentType.JSON).body(body).post("/api/v1/vms").then()
                .statusCode(status).contentType("application/problem+json")
                .body("status", equalTo(status)).body("type", notNullValue()).body("title", notNullValue())
                .body("detail", notNullValue());
        if (field != null) {
            response.body("field", equalTo(field));
        }
    }

    static long total() {
        return ((Number) given().get("/api/v1/vms?size=1").then().statusCode(200).extract().path("total")).longValue();
    }
}
