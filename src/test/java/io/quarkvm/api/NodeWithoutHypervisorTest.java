package io.quarkvm.api;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.nullValue;

/**
 * A host with neither a usable KVM nor the software emulator still serves the API, registers itself, says why it runs
 * no VM (naming both and the package to install), and refuses starts.
 */
@QuarkusTest
@TestProfile(NodeWithoutHypervisorTest.NoHypervisor.class)
class NodeWithoutHypervisorTest {

    public static class NoHypervisor implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("quarkvm.node.kvm-device", "/dev/no-such-kvm",
                    "quarkvm.node.emulator-library", "/no/such/libunicorn.so.2", "quarkvm.node.name", "kvmless");
        }
    }

    @Test
    void theNodeSaysWhyItRunsNoVm() {
        given().get("/api/v1/nodes").then().statusCode(200)
                .body("items.find { it.name == 'kvmless' }.canRunVms", equalTo(false))
                .body("items.find { it.name == 'kvmless' }.reason", containsString("/dev/no-such-kvm"))
                .body("items.find { it.name == 'kvmless' }.reason", containsString("/no/such/libunicorn.so.2"))
                .body("items.find { it.name == 'kvmless' }.reason", containsString("apt-get install libunicorn2"))
                .body("items.find { it.name == 'kvmless' }.hypervisor", equalTo("NONE"))
                .body("items.find { it.name == 'kvmless' }.provider", equalTo("UNSUPPORTED"))
                .body("items.find { it.name == 'kvmless' }.live", equalTo(true))
                .body("items.find { it.name == 'kvmless' }.capabilities.maxVcpus", equalTo(0));
    }

    @Test
    void startingAVmIsAConflictNamingTheReasonAndChangesNothing() {
        String id = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("nokvm"), "latest", 1, 1, 2, 1, null));
        given().post("/api/v1/vms/" + id + "/start").then().statusCode(409).contentType("application/problem+json")
                .body("detail", containsString("/dev/no-such-kvm"));
        given().get("/api/v1/vms/" + id).then().statusCode(200).header("ETag", "\"0\"")
                .body("desiredState", equalTo("STOPPED")).body("phase", equalTo("STOPPED")).body("node", nullValue());
    }
}
