package io.quarkvm.it;

import io.restassured.specification.RequestSpecification;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.equalTo;

/** One service instance per data directory: a second one on the same directory exits at once and touches nothing. */
class DataDirectoryLockIT {

    @Test
    void aSecondInstanceOnTheSameDataDirectoryExitsAndLeavesTheFirstItsDatabaseAndItsVmsAlone() throws Exception {
        Path dataDir = Files.createTempDirectory("quarkvm-lock").resolve("data");
        try (ServiceProcess first = new ServiceProcess(dataDir, Map.of("quarkvm.node.name", "first")).start()) {
            String id = api(first).contentType("application/json")
                    .body("{\"name\":\"owned\",\"topology\":{\"sockets\":1,\"cores\":4,\"threads\":1},\"vcpus\":2}")
                    .post("/api/v1/vms").then().statusCode(201).extract().path("id");
            String before = api(first).get("/api/v1/vms/" + id).then().statusCode(200).extract().asString();
            ProcessHandle postmaster = first.postmaster();

            ServiceProcess second = new ServiceProcess(dataDir, Map.of("quarkvm.node.name", "second"));
            Instant started = Instant.now();
            int exitStatus = second.startExpectingExit(Duration.ofSeconds(60));
            Duration ranFor = Duration.between(started, Instant.now());

            assertThat(exitStatus).as("exit status of the second instance").isNotZero();
            assertThat(second.log()).contains("data directory " + dataDir.toAbsolutePath() + " is in use by another quarkvm instance")
                    .contains("pid " + first.pid()).contains("node first")
                    .doesNotContain("left running").doesNotContain("embedded PostgreSQL on port");
            System.out.printf("a second instance on the same data directory exited with %d after %d ms: %s%n", exitStatus,
                    ranFor.toMillis(), second.log().strip());

            assertThat(postmaster.isAlive()).as("the first instance's PostgreSQL still runs").isTrue();
            assertThat(first.postmaster().pid()).isEqualTo(postmaster.pid());
            api(first).get("/api/v1/vms/" + id).then().statusCode(200).body(equalTo(before));
            api(first).contentType("application/json").body("{\"socket\":0,\"core\":3,\"thread\":0}")
                    .post("/api/v1/vms/" + id + "/vcpus").then().statusCode(200).body("version", equalTo(1));
            api(first).get("/api/v1/nodes").then().statusCode(200).body("items.name", contains("first"));
            api(first).get("/q/health/live").then().statusCode(200);
        }
    }

    private static RequestSpecification api(ServiceProcess service) {
        return service.api();
    }
}
