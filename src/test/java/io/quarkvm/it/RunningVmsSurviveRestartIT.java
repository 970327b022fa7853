package io.quarkvm.it;

import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.specification.RequestSpecification;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The service's embedded database is killed with SIGKILL while VMs run, and they run on; then the service process is
 * killed with SIGKILL (and later stopped gracefully) while VMs run; started again, it runs every VM that should run as
 * a new boot whose guest sees exactly what the previous boot saw.
 */
class RunningVmsSurviveRestartIT {

    @Test
    void vmsRunAgainWithTheSameIdentitiesAfterSigkillAndAfterAGracefulStop() throws Exception {
        Path work = Files.createTempDirectory("quarkvm-running-restart");
        Path dataDir = work.resolve("data");
        String apicVm;
        String slotVm;
        String stoppedVm;
        try (ServiceProcess service = new ServiceProcess(dataDir, Map.of("quarkvm.node.name", "restart-node")).start()) {
            service.requireGuests();
            apicVm = create(service, "{\"name\":\"apic\",\"machineType\":\"quarkvm-2.0\",\"topology\":{\"sockets\":2,\"cores\":3,\"threads\":2},\"vcpus\":2}");
            slotVm = create(service, "{\"name\":\"slot\",\"machineType\":\"quarkvm-3.0\",\"topology\":{\"sockets\":1,\"cores\":4,\"threads\":1},\"vcpus\":1}");
            stoppedVm = create(service, "{\"name\":\"idle\",\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1}}");
            for (String id : List.of(apicVm, slotVm)) {
                api(service).post("/api/v1/vms/" + id + "/start?wait=20").then().statusCode(200);
            }
            plug(service, apicVm, "{\"socket\":1,\"core\":2,\"thread\":1}");
            plug(service, slotVm, "{\"socket\":0,\"core\":3,\"thread\":0}");
            plug(service, slotVm, "{\"socket\":0,\"core\":1,\"thread\":0}");
            awaitBoot(service, apicVm, 1, 3);
            awaitBoot(service, slotVm, 1, 3);

            // The embedded database dies under the running VMs: the service starts it again, and the VMs go on as
            // they were (no VM stopped, no new boot), their guests' heartbeats recorded again.
            ServiceProcess.sigkill(service.postmaster());
            Await.until("the database back", Duration.ofSeconds(60),
                    () -> api(service).get("/api/v1/vms/" + apicVm).statusCode() == 200);
            for (String id : List.of(apicVm, slotVm)) {
                api(service).get("/api/v1/vms/" + id).then().body("phase", org.hamcrest.Matchers.equalTo("RUNNING"));
                long heartbeats = firstVcpuHeartbeats(service, id);
                Await.until("heartbeats of VM " + id + " recorded again", Duration.ofSeconds(30),
                        () -> firstVcpuHeartbeats(service, id) > heartbeats);
                JsonPath identity = identity(service, id);
                assertThat(identity.getList("boots")).as("boots of VM %s after the database restart", id).hasSize(1);
                assertThat(identity.getString("boots[0].endedAt")).isNull();
            }
            service.kill();
        }

        try (ServiceProcess service = new ServiceProcess(dataDir, Map.of("quarkvm.node.name", "restart-node")).start()) {
            List<Map<String, Object>> apicBoot2 = awaitBoot(service, apicVm, 2, 3);
            List<Map<String, Object>> slotBoot2 = awaitBoot(service, slotVm, 2, 3);
            JsonPath apicIdentity = identity(service, apicVm);
            assertThat(apicIdentity.getString("boots[0].endReason")).contains("stopped without stopping it");
            assertSameObservations(apicIdentity.getList("boots[0].vcpus"), apicBoot2);
            assertSameObservations(identity(service, slotVm).getList("boots[0].vcpus"), slotBoot2);
            assertThat(apicBoot2).extracting(v -> v.get("observedVpIndex")).containsExactly(0, 1, 13);
            assertThat(slotBoot2).extracting(v -> v.get("observedVpIndex")).containsExactly(0, 3, 1);
            assertThat(identity(service, stoppedVm).getList("boots")).isEmpty();
            api(service).get("/api/v1/vms/" + stoppedVm).then().body("phase", org.hamcrest.Matchers.equalTo("STOPPED"));
            service.stopGracefully();
            assertThat(service.log()).contains("quarkvm stopped in");
        }

        try (ServiceProcess service = new ServiceProcess(dataDir, Map.of("quarkvm.node.name", "restart-node")).start()) {
            List<Map<String, Object>> apicBoot3 = awaitBoot(service, apicVm, 3, 3);
            JsonPath apicIdentity = identity(service, apicVm);
            assertThat(apicIdentity.getString("boots[1].endReason")).contains("shut down");
            assertSameObservations(apicIdentity.getList("boots[0].vcpus"), apicBoot3);
            api(service).post("/api/v1/vms/" + apicVm + "/stop?wait=20").then().statusCode(200);
            api(service).post("/api/v1/vms/" + slotVm + "/stop?wait=20").then().statusCode(200);
        }
    }

    private static void assertSameObservations(List<Map<String, Object>> earlier, List<Map<String, Object>> later) {
        assertThat(later).hasSameSizeAs(earlier);
        for (int i = 0; i < earlier.size(); i++) {
            for (String key : List.of("cpuIndex", "apicId", "vpIndex", "observedApicId", "observedVpIndex")) {
                assertThat(later.get(i).get(key)).as("%s of vCPU %d", key, i).isEqualTo(earlier.get(i).get(key));
            }
            assertThat(later.get(i).get("violations")).isEqualTo(0);
        }
    }

    /** The vCPUs of boot number {@code boot}, once that many have reported. */
    private static List<Map<String, Object>> awaitBoot(ServiceProcess service, String id, int boot, int vcpus)
            throws InterruptedException {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(60));
        while (true) {
            List<Map<String, Object>> boots = identity(service, id).getList("boots");
            if (boots.size() >= boot) {
                @SuppressWarnings("unchecked")
                List<Map<String, Object>> observed = (List<Map<String, Object>>) boots.get(boot - 1).get("vcpus");
                if (observed.size() == vcpus && observed.stream().allMatch(v -> v.get("reportedAt") != null)) {
                    return observed;
                }
            }
            assertThat(Instant.now()).as("boot %d of VM %s: %s", boot, id, boots).isBefore(deadline);
            Thread.sleep(200);
        }
    }

    /** The heartbeats the first vCPU of the VM's only boot has reported, as recorded in the database. */
    private static long firstVcpuHeartbeats(ServiceProcess service, String id) {
        return identity(service, id).getLong("boots[0].vcpus[0].heartbeats");
    }

    private static String create(ServiceProcess service, String json) {
        return api(service).contentType(ContentType.JSON).body(json).post("/api/v1/vms").then().statusCode(201).extract().path("id");
    }

    private static void plug(ServiceProcess service, String id, String slot) {
        api(service).contentType(ContentType.JSON).body(slot).post("/api/v1/vms/" + id + "/vcpus").then().statusCode(200);
    }

    private static JsonPath identity(ServiceProcess service, String id) {
        return api(service).get("/api/v1/vms/" + id + "/guest-identity").then().statusCode(200).extract().jsonPath();
    }

    private static RequestSpecification api(ServiceProcess service) {
        return service.api();
    }
}
