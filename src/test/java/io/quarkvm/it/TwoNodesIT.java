package io.quarkvm.it;

import io.restassured.specification.RequestSpecification;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.hamcrest.Matchers.equalTo;

/** Two service processes sharing one database: two nodes, real HTTP, NOTIFY between them. */
class TwoNodesIT {

    @Test
    void aVmRunsOnExactlyOneNodeAndEitherNodesApiDrivesIt() throws Exception {
        Path work = Files.createTempDirectory("quarkvm-two-nodes");
        try (ServiceProcess alpha = new ServiceProcess(work.resolve("alpha"), Map.of("quarkvm.node.name", "alpha")).start()) {
            alpha.requireGuests();

            Map<String, String> sameName = new HashMap<>(alpha.sharedDatabase());
            sameName.put("quarkvm.node.name", "alpha");
            assertThatThrownBy(() -> new ServiceProcess(work.resolve("alpha-again"), sameName).start())
                    .hasMessageContaining("held by another live quarkvm instance");

            Map<String, String> betaSettings = new HashMap<>(alpha.sharedDatabase());
            betaSettings.put("quarkvm.node.name", "beta");
            try (ServiceProcess beta = new ServiceProcess(work.resolve("beta"), betaSettings).start()) {
                api(alpha).get("/api/v1/nodes").then()
                        .body("items.name", org.hamcrest.Matchers.contains("alpha", "beta"))
                        .body("items.live", org.hamcrest.Matchers.contains(true, true));

                String id = api(beta).contentType("application/json")
                        .body("{\"name\":\"shared\",\"topology\":{\"sockets\":1,\"cores\":2,\"threads\":1}}")
                        .post("/api/v1/vms").then().statusCode(201).extract().path("id");
                api(beta).post("/api/v1/vms/" + id + "/start?wait=20").then().statusCode(200).body("node", equalTo("beta"));
                assertThat(runningVms(beta)).isEqualTo(1.0);
                assertThat(runningVms(alpha)).as("the other node never runs it").isEqualTo(0.0);
                api(alpha).get("/api/v1/nodes").then()
                        .body("items.find { it.name == 'beta' }.vmCount", equalTo(1))
                        .body("items.find { it.name == 'alpha' }.vmCount", equalTo(0));

                api(alpha).post("/api/v1/vms/" + id + "/pause?wait=20").then().statusCode(200).body("phase", equalTo("PAUSED"));
                api(alpha).post("/api/v1/vms/" + id + "/stop?wait=20").then().statusCode(200).body("phase", equalTo("STOPPED"));
                assertThat(runningVms(beta)).isEqualTo(0.0);
                api(alpha).get("/api/v1/vms/" + id + "/guest-identity").then().body("boots[0].node", equalTo("beta"));
            }
        }
    }

    private static double runningVms(ServiceProcess service) {
        String metrics = api(service).get("/q/metrics").then().statusCode(200).extract().asString();
        return metrics.lines().filter(line -> line.startsWith("quarkvm_vms_running"))
                .mapToDouble(line -> Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1))).findFirst().orElseThrow();
    }

    private static RequestSpecification api(ServiceProcess service) {
        return service.api();
    }
}
