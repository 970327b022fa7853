package io.quarkvm.api;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.quarkvm.api.MigrationFixtures.FakeNode;
import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.UUID;

import static io.quarkvm.api.MigrationFixtures.migrate;
import static io.quarkvm.api.MigrationFixtures.runningVmOn;
import static io.quarkvm.api.MigrationFixtures.uniqueName;
import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

/**
 * An operator's allocatable (quarkvm.node.memory-mib, quarkvm.node.max-vcpus) is what this node publishes and what a
 * migration to it is checked against, in place of the host's memory and KVM's vCPU limit.
 */
@QuarkusTest
@TestProfile(NodeAllocatableTest.SmallAllocatable.class)
class NodeAllocatableTest {

    public static class SmallAllocatable implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("quarkvm.node.memory-mib", "16", "quarkvm.node.max-vcpus", "2");
        }
    }

    private final MigrationFixtures.Nodes nodes = new MigrationFixtures.Nodes();
    private String source;

    @BeforeEach
    void requireGuestsAndASource() {
        VmLifecycleTest.requireNodeThatRunsGuests();
        source = nodes.register(FakeNode.live(uniqueName("src")));
    }

    @AfterEach
    void forgetSource() {
        nodes.forget();
    }

    @Test
    void thisNodeOffersWhatItsOperatorAllocatesAndMigrationsAreCheckedAgainstIt() {
        JsonPath node = VmLifecycleTest.thisNode();
        assertThat(node.getInt("memoryMiB")).isEqualTo(16);
        assertThat(node.getInt("maxVcpus")).isEqualTo(2);
        assertThat(node.getInt("capabilities.maxVcpus")).as("KVM's own limit is still shown").isGreaterThan(2);

        UUID threeSlots = runningVmOn(source, "{\"name\":\"" + uniqueName("alloc-vcpus") + "\",\"memoryMiB\":16,"
                + "\"topology\":{\"sockets\":1,\"cores\":3,\"threads\":1}}");
        migrate(threeSlots, "test-node", null).statusCode(422).body("field", equalTo("targetNode"))
                .body("detail", containsString("offers at most 2 vCPUs"));
        UUID bigMemory = runningVmOn(source, "{\"name\":\"" + uniqueName("alloc-memory") + "\",\"memoryMiB\":18,"
                + "\"topology\":{\"sockets\":1,\"cores\":2,\"threads\":1}}");
        migrate(bigMemory, "test-node", null).statusCode(422).body("field", equalTo("targetNode"))
                .body("detail", containsString("needs 18 MiB of memory but node test-node offers 16 MiB"));

        UUID fits = runningVmOn(source, "{\"name\":\"" + uniqueName("alloc-fits") + "\",\"memoryMiB\":16,"
                + "\"topology\":{\"sockets\":1,\"cores\":2,\"threads\":1}}");
        String id = migrate(fits, "test-node", null).statusCode(202).body("targetNode", equalTo("test-node"))
                .extract().path("id");
        given().delete("/api/v1/migrations/" + id).then().statusCode(200);
    }
}
