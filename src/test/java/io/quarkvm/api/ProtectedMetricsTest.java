package io.quarkvm.api;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.quarkvm.TestCredentials;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static io.quarkvm.TestCredentials.anonymous;
import static io.quarkvm.TestCredentials.viewer;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.startsWith;

/** quarkvm.auth.protect-metrics=true: /q/metrics as one of the API's reads; health stays open. */
@QuarkusTest
@TestProfile(ProtectedMetricsTest.Protected.class)
class ProtectedMetricsTest {

    public static class Protected implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("quarkvm.auth.protect-metrics", "true");
        }
    }

    @Test
    void metricsAskForAViewerOrOperatorToken() {
        anonymous().get("/q/metrics").then().statusCode(401).header("WWW-Authenticate", startsWith("Bearer "));
        given().auth().oauth2("not-a-token").get("/q/metrics").then().statusCode(401)
                .contentType("application/problem+json").header("WWW-Authenticate", containsString("invalid_token"));
        given().auth().oauth2(TestCredentials.CLUSTER_SECRET).get("/q/metrics").then().statusCode(403)
                .contentType("application/problem+json");
        viewer().get("/q/metrics").then().statusCode(200);
        given().get("/q/metrics").then().statusCode(200);
        anonymous().get("/q/health/ready").then().statusCode(200);
    }
}
