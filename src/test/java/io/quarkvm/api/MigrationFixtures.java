package io.quarkvm.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.arc.Arc;
import io.quarkus.narayana.jta.QuarkusTransaction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import io.quarkvm.domain.DesiredState;
import io.quarkvm.domain.HypervisorKind;
import io.quarkvm.domain.NodeCapabilities;
import io.quarkvm.domain.VmPhase;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.node.BootRecorder;
import io.quarkvm.persistence.NodeEntity;
import io.quarkvm.persistence.VcpuEntity;
import io.quarkvm.persistence.VmEntity;
import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;

import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static io.restassured.RestAssured.given;

/**
 * Migration tests run without the node-side runner, so a migration stays where the test puts it: nodes are rows
 * written here (no service behind them), and a "running" VM is one recorded as running on such a node, with its boot
 * open, as that node's reconciler would have recorded it. No node's reconciler acts on a VM placed on a node of rows.
 */
public final class MigrationFixtures {

    /** This machine's PVM KVM (ARCHITECTURE.md "The KVM on these machines"). */
    public static final NodeCapabilities PVM = new NodeCapabilities(12, 2, 1024, 4096, false, false, true, true);
    /** A kernel with KVM_CAP_HYPERV only: VP index = creation order. */
    public static final NodeCapabilities IMPLICIT = new NodeCapabilities(12, 8, 1024, 4096, true, false, false, false);

    private MigrationFixtures() {
    }

    /** A node as one that registers records itself, alive now (heartbeat now) or dead (an hour ago). */
    public record FakeNode(String name, boolean live, boolean canRunVms, String reason, VpIndexProvider provider,
                           NodeCapabilities capabilities, Integer memoryMib, Integer maxVcpus) {

        /** A live node that runs VMs through USERSPACE_MSR on PVM and offers 4 GiB and 64 vCPUs. */
        public static FakeNode live(String name) {
            return new FakeNode(name, true, true, null, VpIndexProvider.USERSPACE_MSR, PVM, 4096, 64);
        }

        public FakeNode dead() {
            return new FakeNode(name, false, canRunVms, reason, provider, capabilities, memoryMib, maxVcpus);
        }

        public FakeNode runningNoVms(String why) {
            return new FakeNode(name, live, false, why, VpIndexProvider.UNSUPPORTED, NodeCapabilities.NONE, memoryMib, 0);
        }

        public FakeNode through(VpIndexProvider provider, NodeCapabilities capabilities) {
            return new FakeNode(name, live, canRunVms, reason, provider, capabilities, memoryMib, maxVcpus);
        }

        public FakeNode offering(Integer memoryMib, Integer maxVcpus) {
            return new FakeNode(name, live, canRunVms, reason, provider, capabilities, memoryMib, maxVcpus);
        }

        public FakeNode register() {
            Instant heartbeat = live ? Instant.now() : Instant.now().minus(Duration.ofHours(1));
            QuarkusTransaction.requiringNew().run(() -> {
                NodeEntity node = NodeEntity.findById(name);
                if (node == null) {
                    node = new NodeEntity();
                    node.name = name;
                }
                node.url = "http://" + name + ":8080";
                node.hypervisor = canRunVms ? HypervisorKind.KVM.name() : HypervisorKind.NONE.name();
                node.provider = provider.name();
                node.capabilities = json(capabilities);
                node.canRunVms = canRunVms;
                node.reason = reason;
                node.memoryMib = memoryMib;
                node.maxVcpus = maxVcpus;
                node.startedAt = heartbeat;
                node.lastHeartbeat = heartbeat;
                node.persist();
            });
            return this;
        }
    }

    /** The node rows one test registers, to be forgotten after it, so that no later placement considers them. */
    public static final class Nodes {
        private final List<String> registered = new ArrayList<>();

        public String register(FakeNode node) {
            registered.add(node.name());
            return node.register().name();
        }

        public void forget() {
            QuarkusTransaction.requiringNew().run(() -> registered.forEach(name -> NodeEntity.deleteById(name)));
            registered.clear();
        }
    }

    /** A live source node and a live target node registered before each test and forgotten after it. */
    public abstract static class WithSourceAndTarget {
        protected final Nodes nodes = new Nodes();
        protected String source;
        protected String target;

        @BeforeEach
        void registerNodes() {
            source = nodes.register(FakeNode.live(uniqueName("src")));
            target = nodes.register(FakeNode.live(uniqueName("dst")));
        }

        @AfterEach
        void forgetNodes() {
            nodes.forget();
        }
    }

    public static String uniqueName(String prefix) {
        return VmResourceTest.uniqueName(prefix);
    }

    /** A new VM recorded as running on {@code node}, with its boot open there; returns its id. */
    public static UUID runningVmOn(String node, String vmJson) {
        UUID id = UUID.fromString(VmResourceTest.createVm(vmJson));
        var identities = QuarkusTransaction.requiringNew().call(() -> {
            VmEntity vm = VmEntity.findById(id);
            vm.node = node;
            vm.desiredState = DesiredState.RUNNING;
            vm.phase = VmPhase.RUNNING;
            return vm.vcpus.stream().filter(v -> v.plugged).map(VcpuEntity::identity).toList();
        });
        Arc.container().instance(BootRecorder.class).get()
                .openBoot(id, node, HypervisorKind.KVM, VpIndexProvider.USERSPACE_MSR, identities);
        return id;
    }

    /** A VM of 2 slots, 32 MiB, SLOT_INDEX, running on {@code node}. */
    public static UUID runningVmOn(String node) {
        return runningVmOn(node, VmResourceTest.vmJson(uniqueName("mig"), "latest", 1, 1, 2, 1, null));
    }

    public static ValidatableResponse migrate(UUID vm, String body) {
        return given().contentType(ContentType.JSON).body(body).post("/api/v1/vms/" + vm + "/migrations").then();
    }

    public static ValidatableResponse migrate(UUID vm, String targetNode, Integer downtimeLimitMs) {
        return migrate(vm, "{\"targetNode\":\"" + targetNode + "\""
                + (downtimeLimitMs == null ? "" : ",\"downtimeLimitMs\":" + downtimeLimitMs) + "}");
    }

    /** Requests a migration that must be recorded; returns its id. */
    public static UUID migrationOf(UUID vm, String targetNode) {
        return UUID.fromString(migrate(vm, targetNode, null).statusCode(202).extract().path("id"));
    }

    public static VmPhase phaseOf(UUID vm) {
        return QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>findById(vm).phase);
    }

    public static String nodeOf(UUID vm) {
        return QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>findById(vm).node);
    }

    private static String json(NodeCapabilities capabilities) {
        try {
            return new ObjectMapper().writeValueAsString(capabilities);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
