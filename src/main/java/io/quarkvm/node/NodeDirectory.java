package io.quarkvm.node;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkvm.domain.HypervisorKind;
import io.quarkvm.domain.MigrationRules;
import io.quarkvm.domain.NodeCapabilities;
import io.quarkvm.domain.NodePreference;
import io.quarkvm.domain.PlacementDecision;
import io.quarkvm.domain.Topology;
import io.quarkvm.domain.VpIndexPolicy;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.domain.VpIndexProviders;
import io.quarkvm.persistence.NodeEntity;
import io.quarkvm.persistence.VmEntity;
import jakarta.enterprise.context.ApplicationScoped;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/** The registered nodes as the database knows them, and where a VM may be placed. Call within a transaction. */
@ApplicationScoped
public class NodeDirectory {

    /** A node whose last heartbeat is older than this many heartbeat intervals is taken for dead. */
    private static final int MISSED_HEARTBEATS = 3;

    private final LocalNode local;
    private final ObjectMapper json;
    private final Duration heartbeatInterval;

    NodeDirectory(LocalNode local, ObjectMapper json, io.quarkvm.config.QuarkvmConfig config) {
        this.local = local;
        this.json = json;
        this.heartbeatInterval = config.node().heartbeatInterval();
    }

    public List<NodeEntity> all() {
        return NodeEntity.listAll(io.quarkus.panache.common.Sort.by("name"));
    }

    /** How many VMs each node holds now, in one query. */
    public Map<String, Long> vmCounts() {
        List<Object[]> rows = VmEntity.getEntityManager()
                .createQuery("select vm.node, count(vm) from VmEntity vm where vm.node is not null group by vm.node", Object[].class)
                .getResultList();
        return rows.stream().collect(Collectors.toMap(row -> (String) row[0], row -> (Long) row[1]));
    }

    public boolean isLive(String name) {
        NodeEntity node = NodeEntity.findById(name);
        return node != null && isLive(node);
    }

    public boolean isLive(NodeEntity node) {
        return node.lastHeartbeat.isAfter(Instant.now().minus(heartbeatInterval.multipliedBy(MISSED_HEARTBEATS)));
    }

    /** Read leniently: a newer node may record capabilities this version does not know. */
    public NodeCapabilities capabilities(NodeEntity node) {
        try {
            return json.readerFor(NodeCapabilities.class)
                    .without(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).readValue(node.capabilities);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("node " + node.name + " has unreadable capabilities", e);
        }
    }

    /**
     * The node a VM should start on: the one it is placed on if that node is alive, else the first live node in
     * {@link NodePreference} order (KVM before emulated, this node first among equals) that can honour the VM's
     * policy. The refusal names every node's reason.
     */
    public Placement place(Optional<String> current, VpIndexPolicy policy, Topology topology, boolean hypervVpIndex) {
        List<String> reasons = new ArrayList<>();
        Optional<NodeEntity> placed = current.map(name -> NodeEntity.<NodeEntity>findById(name)).filter(this::isLive);
        if (placed.isPresent()) {
            return accepts(placed.get(), policy, topology, hypervVpIndex, reasons)
                    ? new Placement(placed.get().name, null) : refused(reasons);
        }
        List<NodeEntity> live = all().stream().filter(this::isLive).toList();
        for (NodeEntity node : NodePreference.order(live, NodeDirectory::hypervisorOf, node -> node.name.equals(local.name()))) {
            if (accepts(node, policy, topology, hypervVpIndex, reasons)) {
                return new Placement(node.name, null);
            }
        }
        return refused(reasons);
    }

    /** The node named so, as a migration target (empty when no node of that name is registered). */
    public Optional<MigrationRules.Target> migrationTarget(String name) {
        return Optional.ofNullable(NodeEntity.<NodeEntity>findById(name)).map(node -> new MigrationRules.Target(
                node.name, isLive(node), node.canRunVms, node.reason, known(VpIndexProvider.class, node.provider),
                node.provider, capabilities(node), node.memoryMib, node.maxVcpus));
    }

    private static HypervisorKind hypervisorOf(NodeEntity node) {
        return known(HypervisorKind.class, node.hypervisor).orElse(HypervisorKind.NONE);
    }

    /** A value a node of another version wrote, if this version knows it (never valueOf's exception). */
    private static <E extends Enum<E>> Optional<E> known(Class<E> type, String name) {
        return Arrays.stream(type.getEnumConstants()).filter(constant -> constant.name().equals(name)).findFirst();
    }

    private boolean accepts(NodeEntity node, VpIndexPolicy policy, Topology topology, boolean hypervVpIndex,
                            List<String> reasons) {
        if (decide(node, policy, topology, hypervVpIndex) instanceof PlacementDecision.Refused refused) {
            reasons.add(refused.reason());
            return false;
        }
        return true;
    }

    private static Placement refused(List<String> reasons) {
        return new Placement(null, reasons.isEmpty() ? "no live node is registered" : String.join("; ", reasons));
    }

    private PlacementDecision decide(NodeEntity node, VpIndexPolicy policy, Topology topology, boolean hypervVpIndex) {
        if (!node.canRunVms) {
            return new PlacementDecision.Refused("node " + node.name + " cannot run VMs: " + node.reason);
        }
        Optional<VpIndexProvider> provider = known(VpIndexProvider.class, node.provider);
        if (provider.isEmpty()) {
            return new PlacementDecision.Refused("node " + node.name + " uses provider " + node.provider
                    + ", which this version does not know");
        }
        return VpIndexProviders.place(capabilities(node), provider.get(), policy, topology, hypervVpIndex);
    }

    /** Where a VM goes, or why it can go nowhere ({@code node} null). */
    public record Placement(String node, String refusal) {
    }
}
