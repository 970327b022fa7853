package io.quarkvm.api;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

/** A node forced to a weaker provider than its kernel backs: here, none at all. */
@QuarkusTest
@TestProfile(ForcedProviderTest.ForcedUnsupported.class)
class ForcedProviderTest {

    public static class ForcedUnsupported implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("quarkvm.node.force-provider", "UNSUPPORTED");
        }
    }

    @BeforeEach
    void requireGuests() {
        VmLifecycleTest.requireNodeThatRunsGuests();
    }

    @Test
    void hypervVmsAreRefusedNamingTheMissingCapabilitiesOthersRun() {
        org.assertj.core.api.Assertions.assertThat(VmLifecycleTest.thisNode().getString("provider")).isEqualTo("UNSUPPORTED");
        org.assertj.core.api.Assertions.assertThat(VmLifecycleTest.thisNode().getBoolean("capabilities.x86UserSpaceMsr")).isTrue();
        String hyperv = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("forced-hv"), "latest", 1, 1, 1, 1, null));
        given().post("/api/v1/vms/" + hyperv + "/start").then().statusCode(409).contentType("application/problem+json")
                .body("detail", containsString("KVM_CAP_HYPERV_VP_INDEX"))
                .body("detail", containsString("KVM_CAP_X86_USER_SPACE_MSR"));
        String plain = VmResourceTest.createVm("{\"name\":\"" + VmResourceTest.uniqueName("forced-plain")
                + "\",\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1},\"hyperv\":{\"vpindex\":false}}");
        VmLifecycleTest.start(plain);
        VmLifecycleTest.stop(plain);
    }
}
