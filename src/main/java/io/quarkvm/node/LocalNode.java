package io.quarkvm.node;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.agroal.api.AgroalDataSource;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.quarkvm.config.QuarkvmConfig;
import io.quarkvm.domain.HypervisorKind;
import io.quarkvm.domain.InvalidSpecificationException;
import io.quarkvm.domain.NodeCapabilities;
import io.quarkvm.domain.PlacementDecision;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.domain.VpIndexProviders;
import io.quarkvm.emulated.EmulatedHypervisor;
import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.kvm.Hypervisors;
import io.quarkvm.kvm.KernelHyperv;
import io.quarkvm.persistence.NodeEntity;
import io.quarkvm.persistence.VmEntity;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.net.UnknownHostException;
import java.time.Instant;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * This service instance as a node: probed once at start, registered in the database with its capabilities and
 * provider, and kept alive by a heartbeat.
 */
@ApplicationScoped
public class LocalNode {

    private static final Logger LOG = Logger.getLogger(LocalNode.class);
    private static final int NAME_LOCK_CHECK_SECONDS = 2;
    private static final Path PROC_MEMINFO = Path.of("/proc/meminfo");

    private final QuarkvmConfig config;
    private final ObjectMapper json;
    private final int httpPort;
    private String name;
    private String url;
    private HostProbe.Result probe;
    private VpIndexProvider provider;
    private String reason;
    private int memoryMib;
    private int maxVcpus;
    private ScheduledExecutorService heartbeat;
    private Hypervisor hypervisor;
    private HypervisorKind hypervisorKind = HypervisorKind.NONE;
    private Connection nameLock;
    private volatile boolean nameTakenByAnother;

    private final AgroalDataSource dataSource;

    LocalNode(QuarkvmConfig config, ObjectMapper json, AgroalDataSource dataSource,
              @ConfigProperty(name = "quarkus.http.port") int httpPort) {
        this.dataSource = dataSource;
        this.config = config;
        this.json = json;
        this.httpPort = httpPort;
    }

    void register(@Observes @Priority(10) StartupEvent event) {
        name = nameFrom(config);
        claimName();
        url = config.node().url().orElse("http://" + hostName() + ":" + httpPort);
        String device = config.node().kvmDevice();
        KernelHyperv kernelHyperv = config.node().kernelHyperv();
        String library = config.node().emulatorLibrary();
        HostHypervisor.Opened opened = HostHypervisor.open(config.node().hypervisor(),
                new HostHypervisor.Backend(HypervisorKind.KVM, device, () -> Hypervisors.open(device, kernelHyperv)),
                new HostHypervisor.Backend(HypervisorKind.EMULATED, "the software emulator",
                        () -> Hypervisors.withKernel(EmulatedHypervisor.open(library), kernelHyperv)));
        hypervisor = opened.hypervisor();
        probe = hypervisor == null ? HostProbe.unusable(opened.reason()) : HostProbe.probe(hypervisor);
        try {
            provider = VpIndexProviders.forNode(probe.capabilities(), config.node().forceProvider());
            reason = probe.reason();
        } catch (InvalidSpecificationException e) {
            provider = VpIndexProvider.UNSUPPORTED;
            reason = e.getMessage();
        }
        if (!canRunVms() && hypervisor != null) {
            hypervisor.close();
            hypervisor = null;
        }
        hypervisorKind = canRunVms() ? opened.kind() : HypervisorKind.NONE;
        memoryMib = offered("quarkvm.node.memory-mib", config.node().memoryMib().orElseGet(LocalNode::hostMemoryMib));
        maxVcpus = offered("quarkvm.node.max-vcpus", config.node().maxVcpus().orElse(probe.capabilities().maxVcpus()));
        LOG.infof("node %s: hypervisor %s, provider %s, capabilities %s, offers %d MiB and %d vCPUs a VM%s", name,
                hypervisorKind, provider, probe.capabilities(), memoryMib, maxVcpus,
                canRunVms() ? "" : "; runs no VM: " + reason);
        QuarkusTransaction.requiringNew().run(this::upsert);
        heartbeat = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "node-heartbeat"));
        long period = config.node().heartbeatInterval().toMillis();
        heartbeat.scheduleAtFixedRate(this::beat, period, period, TimeUnit.MILLISECONDS);
    }

    void shutdown(@Observes @Priority(Integer.MAX_VALUE - 1) ShutdownEvent event) {
        if (heartbeat != null) {
            heartbeat.shutdownNow();
        }
        if (hypervisor != null) {
            hypervisor.close();
        }
        if (nameLock != null) {
            closeNameLock();
        }
    }

    /** The open KVM (or kernel double) VMs are created from; present exactly when {@link #canRunVms()}. */
    public Optional<Hypervisor> hypervisor() {
        return Optional.ofNullable(hypervisor);
    }

    /**
     * Two live service instances with one node name would both run that node's VMs: each instance holds a
     * PostgreSQL advisory lock on its name for its whole life (released by the server when the process dies,
     * SIGKILL included), and a second instance refuses to start.
     */
    private void claimName() {
        try {
            if (!tryClaimName()) {
                throw new IllegalStateException("node name '" + name + "' is held by another live quarkvm "
                        + "instance on this database; give this one another quarkvm.node.name");
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not claim node name " + name, e);
        }
    }

    private boolean tryClaimName() throws SQLException {
        Connection connection = dataSource.getConnection();
        try (PreparedStatement claim = connection.prepareStatement("SELECT pg_try_advisory_lock(hashtext(?))")) {
            claim.setString(1, "quarkvm-node:" + name);
            try (ResultSet result = claim.executeQuery()) {
                result.next();
                if (result.getBoolean(1)) {
                    nameLock = connection;
                    return true;
                }
            }
        } catch (SQLException e) {
            connection.close();
            throw e;
        }
        connection.close();
        return false;
    }

    /**
     * The name's advisory lock lives in a database session, so a database that restarted (or a lost connection)
     * took it away: it is claimed again at the next heartbeat. Should another instance have taken the name in
     * between, this one can no longer tell its VMs from the other's; it says so and reports itself not live.
     */
    private void keepNameClaimed() throws SQLException {
        if (nameLock != null && nameLock.isValid(NAME_LOCK_CHECK_SECONDS)) {
            return;
        }
        if (nameLock != null) {
            closeNameLock();
            nameLock = null;
        }
        if (tryClaimName()) {
            if (nameTakenByAnother) {
                LOG.infof("node name '%s' claimed again", name);
            }
            nameTakenByAnother = false;
        } else if (!nameTakenByAnother) {
            nameTakenByAnother = true;
            LOG.errorf("node name '%s' was claimed by another live quarkvm instance while this one's database session "
                    + "was lost; two instances now act as one node: stop one of them", name);
        }
    }

    /** Whether another live instance holds this node's name, so this one must not go on as that node. */
    public boolean nameTakenByAnother() {
        return nameTakenByAnother;
    }

    private void closeNameLock() {
        try {
            nameLock.close();
        } catch (SQLException e) {
            LOG.debugf("closing the node name lock: %s", e.getMessage());
        }
    }

    private void upsert() {
        NodeEntity node = NodeEntity.findById(name);
        if (node == null) {
            node = new NodeEntity();
            node.name = name;
        }
        node.url = url;
        node.hypervisor = hypervisorKind.name();
        node.provider = provider.name();
        node.capabilities = capabilitiesJson();
        node.canRunVms = canRunVms();
        node.reason = reason;
        node.memoryMib = memoryMib;
        node.maxVcpus = maxVcpus;
        node.startedAt = Instant.now();
        node.lastHeartbeat = node.startedAt;
        node.persist();
    }

    private void beat() {
        try {
            keepNameClaimed();
            QuarkusTransaction.requiringNew().run(() ->
                    NodeEntity.update("lastHeartbeat = ?1 where name = ?2", Instant.now(), name));
        } catch (RuntimeException | SQLException e) {
            LOG.warnf("heartbeat of node %s failed: %s", name, e.getMessage());
        }
    }

    private String capabilitiesJson() {
        try {
            return json.writeValueAsString(probe.capabilities());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public String name() {
        return name;
    }

    public boolean canRunVms() {
        return probe.canRunVms() && reason == null;
    }

    public String reason() {
        return reason;
    }

    public NodeCapabilities capabilities() {
        return probe.capabilities();
    }

    /** What runs this node's guests; {@link HypervisorKind#NONE} exactly when it cannot run VMs. */
    public HypervisorKind hypervisorKind() {
        return hypervisorKind;
    }

    public VpIndexProvider provider() {
        return provider;
    }

    /** Whether, and through which provider, this node can run {@code vm} (to start it, or to take it over). */
    public PlacementDecision placementOf(VmEntity vm) {
        return VpIndexProviders.place(capabilities(), provider(), vm.vpIndexPolicy(), vm.topology(), vm.hypervVpIndex);
    }

    private static int offered(String property, int value) {
        if (value < 0) {
            throw new IllegalStateException(property + " must be 0 or more, was " + value);
        }
        return value;
    }

    /** The host's memory; a host that does not say offers none (the operator can set quarkvm.node.memory-mib). */
    private static int hostMemoryMib() {
        try {
            OptionalInt total = HostProbe.memTotalMib(Files.readAllLines(PROC_MEMINFO));
            if (total.isPresent()) {
                return total.getAsInt();
            }
            LOG.warnf("%s has no MemTotal line: this node offers no memory to migrated VMs", PROC_MEMINFO);
        } catch (IOException e) {
            LOG.warnf("cannot read %s (%s): this node offers no memory to migrated VMs", PROC_MEMINFO, e.getMessage());
        }
        return 0;
    }

    /** This node's name: {@code quarkvm.node.name}, else the host name. */
    public static String nameFrom(QuarkvmConfig config) {
        return config.node().name().orElseGet(LocalNode::hostName);
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }
}
