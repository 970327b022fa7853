package io.quarkvm.api;

import io.restassured.http.ContentType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/**
 * The kernel VP index providers end to end, on a node running on the kernel double over this machine's real KVM
 * (the kernel here has no Hyper-V emulation): guests read their persisted VP index whatever the plug order.
 */
abstract class KernelProviderTest {

    abstract String expectedProvider();

    @BeforeEach
    void requireGuests() {
        VmLifecycleTest.requireNodeThatRunsGuests();
        assertThat(VmLifecycleTest.thisNode().getString("provider")).isEqualTo(expectedProvider());
        assertThat(VmLifecycleTest.thisNode().getBoolean("capabilities.hyperv")).isTrue();
    }

    @Test
    void everyPolicyIsHonouredThroughBootAndOutOfOrderHotPlug() {
        for (String machineType : List.of("quarkvm-1.0", "quarkvm-3.0")) {
            String id = VmResourceTest.createVm(VmResourceTest.vmJson(
                    VmResourceTest.uniqueName("kernel-" + machineType), machineType, 2, 1, 3, 2, 3));
            VmLifecycleTest.start(id);
            plug(id, 1, 2, 1);
            plug(id, 0, 2, 0);
            given().delete("/api/v1/vms/" + id + "/vcpus/1").then().statusCode(200);
            plug(id, 0, 0, 1);
            assertGuestsReadTheirPersistedVpIndex(id, 5);
            VmLifecycleTest.stop(id);
        }
        String dense = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("kernel-apic"), "quarkvm-2.0", 2, 1, 2, 2, 2));
        VmLifecycleTest.start(dense);
        plug(dense, 1, 1, 1);
        assertGuestsReadTheirPersistedVpIndex(dense, 3);
        VmLifecycleTest.stop(dense);
    }

    static void assertGuestsReadTheirPersistedVpIndex(String id, int plugged) {
        List<Map<String, Object>> persisted = given().get("/api/v1/vms/" + id).then().extract().jsonPath().getList("vcpus");
        List<Map<String, Object>> observed = VmLifecycleTest.awaitAllReported(id, plugged);
        for (Map<String, Object> vcpu : observed) {
            Map<String, Object> row = persisted.stream().filter(p -> p.get("cpuIndex").equals(vcpu.get("cpuIndex"))).findFirst().orElseThrow();
            assertThat(vcpu.get("observedVpIndex")).as("%s", row).isEqualTo(row.get("vpIndex"));
            assertThat(vcpu.get("observedApicId")).isEqualTo(row.get("apicId"));
            assertThat(vcpu.get("vpIndexWriteRefused")).isEqualTo(true);
        }
        given().get("/api/v1/vms/" + id + "/guest-identity").then()
                .body("boots[-1].provider", equalTo(VmLifecycleTest.thisNode().getString("provider")));
    }

    static void plug(String id, int socket, int core, int thread) {
        given().contentType(ContentType.JSON).body(Map.of("socket", socket, "core", core, "thread", thread))
                .post("/api/v1/vms/" + id + "/vcpus").then().statusCode(200);
    }
}
