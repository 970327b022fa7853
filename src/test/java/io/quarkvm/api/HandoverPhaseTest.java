package io.quarkvm.api;

import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkvm.domain.DesiredState;
import io.quarkvm.domain.VmPhase;
import io.quarkvm.node.VmReconciler;
import io.quarkvm.persistence.VmEntity;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.function.Predicate;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

/**
 * A VM that a migration is handing over (phase MIGRATING_OUT, written here as the migration writes it) is left alone
 * by this node's reconciler: the copy running here is not stopped though the VM is placed on another node, and a VM placed here with no copy running is not booted. Once the phase says the handover is over,
 * the reconciler takes the very steps it held back, which shows the test could fail.
 */
@QuarkusTest
class HandoverPhaseTest {

    /** Several passes of the reconciler, each woken at once by the enqueue. */
    private static final Duration LEFT_ALONE_FOR = Duration.ofMillis(1500);
    private static final String OTHER_NODE = "node-at-the-other-end";

    @Inject
    VmReconciler reconciler;

    @BeforeEach
    void requireGuests() {
        VmLifecycleTest.requireNodeThatRunsGuests();
    }

    @Test
    void aCopyRunningHereIsNotStoppedWhileTheVmIsPlacedElsewhereDuringAHandover() throws InterruptedException {
        for (VmPhase handover : List.of(VmPhase.MIGRATING_OUT)) {
            String id = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("handover-copy"),
                    "latest", 1, 1, 1, 1, null));
            VmLifecycleTest.start(id);
            record(id, OTHER_NODE, handover, DesiredState.RUNNING);
            given().post("/api/v1/vms/" + id + "/stop").then().statusCode(409)
                    .body("detail", containsString("migration"));
            given().post("/api/v1/vms/" + id + "/start").then().statusCode(202); // asked already, not observed
            given().get("/api/v1/vms/" + id).then().body("node", equalTo(OTHER_NODE)).body("phase", equalTo(handover.name()));

            long before = VmLifecycleTest.heartbeats(id);
            Thread.sleep(LEFT_ALONE_FOR.toMillis());
            assertThat(latestBoot(id).get("endedAt")).as("%s: the boot here goes on", handover).isNull();
            VmLifecycleTest.awaitHeartbeatsAbove(id, before);

            record(id, OTHER_NODE, VmPhase.RUNNING, DesiredState.RUNNING);
            JsonPath ended = awaitLatestBoot(id, boot -> boot.getString("endedAt") != null);
            assertThat(ended.getString("endReason")).as(handover + ", then over").contains("placed on node " + OTHER_NODE);
            given().post("/api/v1/vms/" + id + "/stop?wait=5").then().statusCode(200).body("phase", equalTo("STOPPED"));
        }
    }

    @Test
    void aVmPlacedHereIsNotBootedDuringAHandover() throws InterruptedException {
        for (VmPhase handover : List.of(VmPhase.MIGRATING_OUT)) {
            String id = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("handover-boot"),
                    "latest", 1, 1, 1, 1, null));
            record(id, VmLifecycleTest.thisNode().getString("name"), handover, DesiredState.RUNNING);

            Thread.sleep(LEFT_ALONE_FOR.toMillis());
            assertThat(boots(id)).as("%s: no boot", handover).isEmpty();
            given().get("/api/v1/vms/" + id).then().body("phase", equalTo(handover.name()));

            record(id, VmLifecycleTest.thisNode().getString("name"), VmPhase.STOPPED, DesiredState.RUNNING);
            awaitLatestBoot(id, boot -> boot.getString("startedAt") != null);
            given().post("/api/v1/vms/" + id + "/start?wait=20").then().statusCode(200).body("phase", equalTo("RUNNING"));
            VmLifecycleTest.stop(id);
        }
    }

    /** What a migration records, and the wake-up its notification gives the reconciler. */
    private void record(String id, String node, VmPhase phase, DesiredState desired) {
        UUID vmId = UUID.fromString(id);
        QuarkusTransaction.requiringNew().run(() -> {
            VmEntity vm = VmEntity.findById(vmId);
            vm.node = node;
            vm.phase = phase;
            vm.desiredState = desired;
        });
        reconciler.enqueue(vmId);
    }

    private static List<Object> boots(String id) {
        return given().get("/api/v1/vms/" + id + "/guest-identity").then().statusCode(200).extract().jsonPath()
                .getList("boots");
    }

    private static java.util.Map<String, Object> latestBoot(String id) {
        JsonPath identity = given().get("/api/v1/vms/" + id + "/guest-identity").then().statusCode(200).extract().jsonPath();
        return identity.getMap("boots[" + (identity.getList("boots").size() - 1) + "]");
    }

    private static JsonPath awaitLatestBoot(String id, Predicate<JsonPath> condition) throws InterruptedException {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(20));
        while (true) {
            JsonPath identity = given().get("/api/v1/vms/" + id + "/guest-identity").then().statusCode(200).extract().jsonPath();
            int boots = identity.getList("boots").size();
            if (boots > 0) {
                JsonPath latest = identity.setRootPath("boots[" + (boots - 1) + "]");
                if (condition.test(latest)) {
                    return latest;
                }
            }
            assertThat(Instant.now()).as("latest boot of VM %s", id).isBefore(deadline);
            Thread.sleep(100);
        }
    }
}
