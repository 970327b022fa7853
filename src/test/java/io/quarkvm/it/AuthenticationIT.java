package io.quarkvm.it;

import io.restassured.RestAssured;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItems;

/** The packaged service's credentials as an operator meets them: generated alone, given in a cluster. */
class AuthenticationIT {

    @Test
    void theFirstStartGeneratesAnOwnerOnlyOperatorTokenThatIsNeverLoggedAndALaterStartReusesIt() throws Exception {
        Path dataDir = Files.createTempDirectory("quarkvm-auth").resolve("data");
        Path tokenFile = dataDir.resolve("operator.token");
        String token;
        try (ServiceProcess service = new ServiceProcess(dataDir, Map.of()).start()) {
            assertThat(mode(tokenFile)).isEqualTo("rw-------");
            assertThat(mode(dataDir.resolve("cluster.secret"))).isEqualTo("rw-------");
            token = service.operatorToken();
            String clusterSecret = Files.readString(dataDir.resolve("cluster.secret")).strip();
            assertThat(token).hasSizeGreaterThanOrEqualTo(32).isNotEqualTo(clusterSecret);

            RestAssured.given().baseUri(service.baseUri()).get("/api/v1/vms").then().statusCode(401)
                    .contentType("application/problem+json").header("WWW-Authenticate", equalTo("Bearer realm=\"quarkvm\""));
            service.api().get("/api/v1/vms").then().statusCode(200);
            RestAssured.given().baseUri(service.baseUri()).get("/q/health/ready").then().statusCode(200);

            String log = service.log();
            assertThat(log).contains(tokenFile.toString()).doesNotContain(token).doesNotContain(clusterSecret);
        }
        try (ServiceProcess again = new ServiceProcess(dataDir, Map.of()).start()) {
            assertThat(again.operatorToken()).isEqualTo(token);
            again.api().get("/api/v1/vms").then().statusCode(200);
            assertThat(again.log()).contains(tokenFile.toString()).doesNotContain(token);
        }
    }

    @Test
    void aNodeOnAnExternalDatabaseTakesTheTokensFileItIsGivenAndRefusesToStartWithoutAClusterSecret() throws Exception {
        Path work = Files.createTempDirectory("quarkvm-auth-cluster");
        try (ServiceProcess alpha = new ServiceProcess(work.resolve("alpha"), Map.of("quarkvm.node.name", "alpha")).start()) {
            Map<String, String> beta = new HashMap<>(alpha.sharedDatabase());
            beta.put("quarkvm.node.name", "beta");

            Map<String, String> withoutSecret = new HashMap<>(beta);
            withoutSecret.remove("quarkvm.auth.cluster-secret");
            ServiceProcess refused = new ServiceProcess(work.resolve("refused"), withoutSecret);
            assertThat(refused.startExpectingExit(Duration.ofSeconds(120))).isNotZero();
            assertThat(refused.log()).contains("QUARKVM_CLUSTER_SECRET");
            assertThat(work.resolve("refused").resolve("cluster.secret")).doesNotExist();

            try (ServiceProcess node = new ServiceProcess(work.resolve("beta"), beta).start()) {
                node.api().get("/api/v1/nodes").then().statusCode(200).body("items.name", hasItems("alpha", "beta"));
                RestAssured.given().baseUri(node.baseUri()).auth().oauth2("not-a-token").get("/api/v1/nodes").then()
                        .statusCode(401);
                assertThat(work.resolve("beta").resolve("operator.token")).as("nothing generated").doesNotExist();
            }
        }
    }

    private static String mode(Path file) throws java.io.IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(file));
    }
}
