package io.quarkvm.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/**
 * The node's reconciler works on VMs in parallel: a VM that is slow to start, here one of 512 vCPUs (created one after
 * the other, each set up and identity-checked before the first may run), does not hold up a small VM asked to start
 * after it. The small VM's guest is up and has reported before the large VM's first vCPU ran at all, which a single
 * reconciler thread, busy creating the large VM's vCPUs, could not have done (run it with
 * -Dquarkvm.node.reconcile-workers=1 to see it fail). Nor does the large VM's stop hold up the small VM's start.
 */
@QuarkusTest
class ReconcilerParallelismTest {

    @BeforeEach
    void requireGuests() {
        VmLifecycleTest.requireNodeThatRunsGuests();
    }

    @Test
    void aVmSlowToStartDoesNotHoldUpTheStartOfAnother() throws InterruptedException {
        String large = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("slow-large"),
                "quarkvm-3.0", 4, 2, 16, 4, null));
        String small = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("quick-small"),
                "latest", 1, 1, 1, 1, null));
        given().post("/api/v1/vms/" + large + "/start").then().statusCode(202);
        awaitBootOpened(large); // its reconcile is creating its vCPUs now

        long asked = System.nanoTime();
        VmLifecycleTest.start(small);
        long smallStartMillis = Duration.ofNanos(System.nanoTime() - asked).toMillis();
        Instant smallUp = latestReports(small).stream().max(Comparator.naturalOrder()).orElseThrow();
        List<Instant> largeReports = latestReports(large);
        System.out.printf("ReconcilerParallelismTest: the 1-vCPU VM started in %d ms while the 512-vCPU VM had %d "
                + "vCPUs reported%n", smallStartMillis, largeReports.size());
        assertThat(largeReports).as("the small VM was up before any vCPU of the large one ran")
                .allSatisfy(report -> assertThat(report).isAfter(smallUp));

        given().post("/api/v1/vms/" + large + "/start?wait=120").then().statusCode(200).body("phase", equalTo("RUNNING"));
        VmLifecycleTest.stop(small);

        // Stopping it is slow too: every one of its vCPU threads is joined and every engine closed.
        given().post("/api/v1/vms/" + large + "/stop").then().statusCode(202);
        VmLifecycleTest.start(small);
        Instant smallStarted = Instant.parse(latestBoot(small).getString("startedAt"));
        given().post("/api/v1/vms/" + large + "/stop?wait=60").then().statusCode(200).body("phase", equalTo("STOPPED"));
        JsonPath largeBoot = latestBoot(large);
        Instant largeEnded = Instant.parse(largeBoot.getString("endedAt"));
        System.out.printf("ReconcilerParallelismTest: the 1-vCPU VM started %d ms before the 512-vCPU VM had stopped%n",
                Duration.between(smallStarted, largeEnded).toMillis());
        assertThat(smallStarted).as("the small VM started while the large one was stopping").isBefore(largeEnded);
        VmLifecycleTest.stop(small);
    }

    private static JsonPath latestBoot(String id) {
        JsonPath identity = guestIdentity(id);
        return identity.setRootPath("boots[" + (identity.getList("boots").size() - 1) + "]");
    }

    private static void awaitBootOpened(String id) throws InterruptedException {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(20));
        while (guestIdentity(id).getList("boots").isEmpty()) {
            assertThat(Instant.now()).as("a boot of %s opened", id).isBefore(deadline);
            Thread.sleep(20);
        }
    }

    /** When the latest boot's vCPUs reported, for those that have. */
    private static List<Instant> latestReports(String id) {
        JsonPath identity = guestIdentity(id);
        int boots = identity.getList("boots").size();
        List<String> reported = identity.getList("boots[" + (boots - 1) + "].vcpus.reportedAt");
        return reported.stream().filter(Objects::nonNull).map(Instant::parse).toList();
    }

    private static JsonPath guestIdentity(String id) {
        return given().get("/api/v1/vms/" + id + "/guest-identity").then().statusCode(200).extract().jsonPath();
    }
}
