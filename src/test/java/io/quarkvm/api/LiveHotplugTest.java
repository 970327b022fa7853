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
import java.util.Optional;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

/** vCPUs plugged into and unplugged from running VMs, in orders no topology walk would take. */
@QuarkusTest
class LiveHotplugTest {

    @BeforeEach
    void requireGuests() {
        VmLifecycleTest.requireNodeThatRunsGuests();
    }

    @Test
    void outOfOrderHotPlugGivesEachGuestVcpuItsPersistedIdentity() {
        for (String machineType : List.of("quarkvm-1.0", "quarkvm-2.0", "quarkvm-3.0")) {
            String id = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("live-" + machineType), machineType, 2, 1, 3, 2, 2));
            VmLifecycleTest.start(id);
            for (int[] slot : new int[][] {{1, 2, 1}, {0, 2, 0}, {1, 0, 0}, {0, 1, 1}}) {
                plug(id, slot[0], slot[1], slot[2]);
            }
            List<Map<String, Object>> persisted = given().get("/api/v1/vms/" + id).then().extract().jsonPath().getList("vcpus");
            List<Map<String, Object>> observed = VmLifecycleTest.awaitAllReported(id, 6);
            assertThat(observed).hasSize(persisted.size());
            for (int i = 0; i < persisted.size(); i++) {
                assertThat(observed.get(i).get("cpuIndex")).isEqualTo(persisted.get(i).get("cpuIndex"));
                assertThat(observed.get(i).get("observedVpIndex")).as(machineType + " " + persisted.get(i))
                        .isEqualTo(persisted.get(i).get("vpIndex"));
                assertThat(observed.get(i).get("observedApicId")).isEqualTo(persisted.get(i).get("apicId"));
            }
            assertThat(persisted).extracting(v -> v.get("apicId")).containsExactly(0, 1, 13, 4, 8, 3);
            VmLifecycleTest.stop(id);
        }
    }

    @Test
    void anUnpluggedVcpuStopsAndItsReplugCarriesOnWithTheSameIdentity() throws InterruptedException {
        String id = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("replug"), "quarkvm-3.0", 1, 1, 4, 1, 2));
        VmLifecycleTest.start(id);
        plug(id, 0, 3, 0);
        VmLifecycleTest.awaitAllReported(id, 3);
        awaitHeartbeatsOf(id, 3, 0);

        given().delete("/api/v1/vms/" + id + "/vcpus/3").then().statusCode(200);
        Thread.sleep(1500);
        long parked = heartbeatsOf(id, 3);
        Thread.sleep(1500);
        assertThat(heartbeatsOf(id, 3)).as("an unplugged vCPU does not run").isEqualTo(parked);
        assertThat(heartbeatsOf(id, 0)).as("the others do").isPositive();

        plug(id, 0, 3, 0);
        awaitHeartbeatsOf(id, 3, parked);
        Map<String, Object> vcpu = vcpuOfLatestBoot(id, 3).orElseThrow();
        assertThat(vcpu.get("cpuIndex")).isEqualTo(2);
        assertThat(vcpu.get("observedVpIndex")).isEqualTo(3);
        assertThat(vcpu.get("violations")).isEqualTo(0);
        VmLifecycleTest.stop(id);
    }

    private static void plug(String id, int socket, int core, int thread) {
        given().contentType(ContentType.JSON).body(Map.of("socket", socket, "core", core, "thread", thread))
                .post("/api/v1/vms/" + id + "/vcpus").then().statusCode(200);
    }

    private static Optional<Map<String, Object>> vcpuOfLatestBoot(String id, int apicId) {
        JsonPath identity = given().get("/api/v1/vms/" + id + "/guest-identity").then().statusCode(200).extract().jsonPath();
        int boots = identity.getList("boots").size();
        List<Map<String, Object>> vcpus = identity.getList("boots[" + (boots - 1) + "].vcpus");
        return vcpus.stream().filter(v -> Integer.valueOf(apicId).equals(v.get("apicId"))).findFirst();
    }

    private static long heartbeatsOf(String id, int apicId) {
        return vcpuOfLatestBoot(id, apicId).map(v -> ((Number) v.get("heartbeats")).longValue()).orElse(0L);
    }

    private static void awaitHeartbeatsOf(String id, int apicId, long above) throws InterruptedException {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(20));
        while (heartbeatsOf(id, apicId) <= above) {
            assertThat(Instant.now()).as("heartbeats of APIC ID %d above %d", apicId, above).isBefore(deadline);
            Thread.sleep(100);
        }
    }
}
