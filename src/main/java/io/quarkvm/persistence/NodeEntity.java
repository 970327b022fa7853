package io.quarkvm.persistence;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import jakarta.persistence.Version;

import java.time.Instant;

/** A service instance: what its kernel can do (probed once at start), where it answers, its last heartbeat. */
@Entity
@Table(name = "node")
public class NodeEntity extends PanacheEntityBase {

    @Id
    public String name;

    public String url;

    public String provider;

    /** {@link io.quarkvm.domain.HypervisorKind}: what runs this node's guests. */
    public String hypervisor;

    /** The probed capabilities as JSON, kept whole so a new capability needs no migration. */
    public String capabilities;

    @Column(name = "can_run_vms")
    public boolean canRunVms;

    public String reason;

    /** What the node offers a VM (V6): its memory and vCPUs; null when a version before V6 registered it. */
    @Column(name = "memory_mib")
    public Integer memoryMib;

    @Column(name = "max_vcpus")
    public Integer maxVcpus;

    @Column(name = "started_at")
    public Instant startedAt;

    @Column(name = "last_heartbeat")
    public Instant lastHeartbeat;

    @Version
    public long version;
}
