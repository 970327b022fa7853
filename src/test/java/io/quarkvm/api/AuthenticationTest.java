package io.quarkvm.api;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkvm.TestCredentials;
import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;
import org.junit.jupiter.api.Test;

import static io.quarkvm.TestCredentials.anonymous;
import static io.quarkvm.TestCredentials.viewer;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.startsWith;

/** Who may call /api/v1: bearer tokens from a tokens file of hashes, their roles, and what stays open. */
@QuarkusTest
class AuthenticationTest {

    @Test
    void withoutATokenEveryApiCallIs401WithABearerChallenge() {
        unauthorized(anonymous().get("/api/v1/vms").then())
                .header("WWW-Authenticate", equalTo(BearerTokenChallenge.MISSING));
        unauthorized(anonymous().get("/api/v1/nodes").then());
        unauthorized(anonymous().contentType(ContentType.JSON).body(VmResourceTest.vmJson(VmResourceTest.uniqueName("anon"),
                "latest", 1, 1, 1, 1, null)).post("/api/v1/vms").then());
        unauthorized(anonymous().accept("text/event-stream").get("/api/v1/events").then());
    }

    @Test
    void aTokenThatIsNoneOfOursIs401AndChangesNothing() {
        String name = VmResourceTest.uniqueName("forged");
        unauthorized(given().auth().oauth2("not-a-token").contentType(ContentType.JSON)
                .body(VmResourceTest.vmJson(name, "latest", 1, 1, 1, 1, null)).post("/api/v1/vms").then())
                .header("WWW-Authenticate", equalTo(BearerTokenChallenge.INVALID));
        // the hash itself is not a token: the tokens file may be read by more people than the tokens
        unauthorized(given().auth().oauth2(TestCredentials.sha256Hex(TestCredentials.OPERATOR)).get("/api/v1/vms").then());
        unauthorized(given().header("Authorization", "Basic " + TestCredentials.OPERATOR).get("/api/v1/vms").then());
        unauthorized(given().header("Authorization", "Bearer").get("/api/v1/vms").then());
        unauthorized(anonymous().accept("text/event-stream").auth().oauth2("not-a-token").get("/api/v1/events").then());
        given().get("/api/v1/vms?size=100").then().statusCode(200).body("items.name", not(hasItem(name)));
    }

    @Test
    void aViewerReadsButChangesNothing() {
        String id = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("viewed"), "quarkvm-2.0",
                1, 1, 2, 1, 1));
        viewer().get("/api/v1/vms").then().statusCode(200);
        viewer().get("/api/v1/vms/" + id).then().statusCode(200).body("id", equalTo(id));
        viewer().get("/api/v1/nodes").then().statusCode(200);

        String name = VmResourceTest.uniqueName("by-viewer");
        forbidden(viewer().contentType(ContentType.JSON).body(VmResourceTest.vmJson(name, "latest", 1, 1, 1, 1, null))
                .post("/api/v1/vms").then());
        forbidden(viewer().contentType(ContentType.JSON).body("{\"socket\":0,\"core\":1,\"thread\":0}")
                .post("/api/v1/vms/" + id + "/vcpus").then());
        forbidden(viewer().post("/api/v1/vms/" + id + "/start").then());
        forbidden(viewer().delete("/api/v1/vms/" + id).then());
        given().get("/api/v1/vms/" + id).then().statusCode(200).body("version", equalTo(0));
        given().get("/api/v1/vms?size=100").then().statusCode(200).body("items.name", not(hasItem(name)));
    }

    @Test
    void anOperatorChanges() {
        String id = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("operated"), "latest",
                1, 1, 1, 1, null));
        given().header("Authorization", "bearer " + TestCredentials.OPERATOR).get("/api/v1/vms/" + id).then()
                .statusCode(200);
        given().delete("/api/v1/vms/" + id).then().statusCode(204);
    }

    /** The cluster secret makes a node, which no API operation admits: it cannot stand in for an operator. */
    @Test
    void theClusterSecretAuthenticatesANodeThatIsNeitherViewerNorOperator() {
        forbidden(given().auth().oauth2(TestCredentials.CLUSTER_SECRET).get("/api/v1/vms").then());
        forbidden(given().auth().oauth2(TestCredentials.CLUSTER_SECRET).contentType(ContentType.JSON)
                .body(VmResourceTest.vmJson(VmResourceTest.uniqueName("by-node"), "latest", 1, 1, 1, 1, null))
                .post("/api/v1/vms").then());
    }

    @Test
    void healthAndMetricsStayOpenWhateverIsSent() {
        anonymous().get("/q/health/live").then().statusCode(200);
        anonymous().get("/q/health/ready").then().statusCode(200);
        given().auth().oauth2("not-a-token").get("/q/health").then().statusCode(200);
        anonymous().get("/q/metrics").then().statusCode(200);
    }

    private static ValidatableResponse unauthorized(ValidatableResponse response) {
        return response.statusCode(401).contentType(Problem.MEDIA_TYPE).body("status", equalTo(401))
                .header("WWW-Authenticate", startsWith("Bearer "));
    }

    private static void forbidden(ValidatableResponse response) {
        response.statusCode(403).contentType(Problem.MEDIA_TYPE).body("status", equalTo(403));
    }

    /** RFC 6750 §3, spelled out here so that a change of the service's challenge shows. */
    private static final class BearerTokenChallenge {
        static final String MISSING = "Bearer realm=\"quarkvm\"";
        static final String INVALID = "Bearer realm=\"quarkvm\", error=\"invalid_token\"";
    }
}
