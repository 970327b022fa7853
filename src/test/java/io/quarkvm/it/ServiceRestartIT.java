package io.quarkvm.it;

import io.restassured.http.ContentType;
import io.restassured.specification.RequestSpecification;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Identities read back after the service was stopped gracefully, then killed, on the same embedded database. */
class ServiceRestartIT {

    @Test
    void identitiesSurviveGracefulStopAndSigkill() throws Exception {
        Path work = Files.createTempDirectory("quarkvm-restart");
        Path dataDir = work.resolve("data");
        String id;
        List<Map<String, Object>> identitiesBefore;
        try (ServiceProcess service = new ServiceProcess(dataDir, Map.of()).start()) {
            id = api(service).contentType(ContentType.JSON)
                    .body("{\"name\":\"restart-me\",\"machineType\":\"quarkvm-2.0\",\"topology\":{\"sockets\":2,\"cores\":3,\"threads\":2},\"vcpus\":3}")
                    .post("/api/v1/vms").then().statusCode(201).extract().path("id");
            for (String slot : List.of("{\"socket\":1,\"core\":2,\"thread\":1}", "{\"socket\":0,\"core\":2,\"thread\":0}",
                    "{\"socket\":1,\"core\":0,\"thread\":0}")) {
                api(service).contentType(ContentType.JSON).body(slot).post("/api/v1/vms/" + id + "/vcpus").then().statusCode(200);
            }
            api(service).delete("/api/v1/vms/" + id + "/vcpus/4").then().statusCode(200);
            identitiesBefore = vcpus(service, id);
            assertThat(service.stopGracefully()).as("exit status after SIGTERM").isIn(0, 128 + 15);
            assertThat(service.log()).contains("quarkvm stopped in");
        }
        assertThat(dataDir.resolve("postgres/postmaster.pid")).as("a graceful stop stops the embedded PostgreSQL").doesNotExist();

        try (ServiceProcess service = new ServiceProcess(dataDir, Map.of()).start()) {
            assertThat(vcpus(service, id)).isEqualTo(identitiesBefore);
            api(service).contentType(ContentType.JSON).body("{\"socket\":1,\"core\":1,\"thread\":1}")
                    .post("/api/v1/vms/" + id + "/vcpus").then().statusCode(200);
            identitiesBefore = vcpus(service, id);
            service.kill();
        }

        try (ServiceProcess service = new ServiceProcess(dataDir, Map.of()).start()) {
            List<Map<String, Object>> after = vcpus(service, id);
            assertThat(after).isEqualTo(identitiesBefore);
            assertThat(after).extracting(v -> v.get("cpuIndex")).containsExactly(0, 1, 2, 3, 4, 5, 6);
            assertThat(after).extracting(v -> v.get("apicId")).containsExactly(0, 1, 2, 13, 4, 8, 11);
            assertThat(after).extracting(v -> v.get("vpIndex")).containsExactly(0, 1, 2, 13, 4, 8, 11);
            assertThat(after).extracting(v -> v.get("plugged")).containsExactly(true, true, true, true, false, true, true);
            assertThat(service.log()).contains("left running");
        }
    }

    private static List<Map<String, Object>> vcpus(ServiceProcess service, String id) {
        return api(service).get("/api/v1/vms/" + id).then().statusCode(200).extract().jsonPath().getList("vcpus");
    }

    private static RequestSpecification api(ServiceProcess service) {
        return service.api();
    }
}
