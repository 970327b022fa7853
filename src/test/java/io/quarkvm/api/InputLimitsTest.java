package io.quarkvm.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.Test;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;

/** Issue 10 item 5: request bodies are bounded (names and page sizes: VmResourceTest). */
@QuarkusTest
class InputLimitsTest {

    private static final int BODY_LIMIT = 64 * 1024;

    @Test
    void aBodyOverTheLimitIsRefusedWith413AndCreatesNothing() {
        String name = VmResourceTest.uniqueName("large");
        String json = VmResourceTest.vmJson(name, "latest", 1, 1, 1, 1, null);
        String padded = json.substring(0, json.length() - 1) + ",\"padding\":\"" + "x".repeat(BODY_LIMIT) + "\"}";
        given().contentType(ContentType.JSON).body(padded).post("/api/v1/vms").then().statusCode(413);
        given().get("/api/v1/vms?size=100").then().statusCode(200).body("items.name", not(hasItem(name)));
        // just under the limit is read (and refused for what it says, not for its size)
        String under = json.substring(0, json.length() - 1) + ",\"padding\":\""
                + "x".repeat(BODY_LIMIT - json.length() - 20) + "\"}";
        given().contentType(ContentType.JSON).body(under).post("/api/v1/vms").then().statusCode(400)
                .body("field", equalTo("padding"));
    }
}
