package io.quarkvm.api;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;

/** A node whose kernel has KVM_CAP_HYPERV only: the VP index is the vCPU creation order. */
@QuarkusTest
@TestProfile(ImplicitKernelProviderTest.Implicit.class)
class ImplicitKernelProviderTest extends KernelProviderTest {

    public static class Implicit implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("quarkvm.node.kernel-hyperv", "IMPLICIT");
        }
    }

    @Override
    String expectedProvider() {
        return "KERNEL_IMPLICIT";
    }

    @Test
    void sparseApicIdsAsVpIndexesAreRefusedWithAClearProblem() {
        String sparse = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("implicit-sparse"), "quarkvm-2.0", 2, 1, 3, 2, null));
        given().post("/api/v1/vms/" + sparse + "/start").then().statusCode(409).contentType("application/problem+json")
                .body("detail", containsString("sparse")).body("detail", containsString("quarkvm-3.0"));
        given().get("/api/v1/vms/" + sparse).then().body("desiredState", org.hamcrest.Matchers.equalTo("STOPPED"));
    }
}
