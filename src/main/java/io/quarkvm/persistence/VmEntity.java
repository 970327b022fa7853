package io.quarkvm.persistence;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import io.quarkvm.domain.DesiredState;
import io.quarkvm.domain.MachineType;
import io.quarkvm.domain.VmPhase;
import io.quarkvm.domain.PluggedVcpu;
import io.quarkvm.domain.Topology;
import io.quarkvm.domain.VpIndexPolicy;
import jakarta.persistence.CascadeType;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.OneToMany;
import jakarta.persistence.OrderBy;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import org.hibernate.annotations.OptimisticLock;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/** A VM row (V1__vms_vcpus_nodes.sql): its fixed specification, desired state and observed phase. */
@Entity
@Table(name = "vm")
public class VmEntity extends PanacheEntityBase {

    @Id
    public UUID id;

    public String name;

    /** The resolved machine type name (never the alias), so the policy stays fixed when {@code latest} moves. */
    @Column(name = "machine_type")
    public String machineType;

    public int sockets;
    public int dies;
    public int cores;
    public int threads;

    @Column(name = "memory_mib")
    public int memoryMib;

    @Column(name = "hyperv_vpindex")
    public boolean hypervVpIndex;

    @Column(name = "guest_kind")
    public String guestKind;

    @Enumerated(EnumType.STRING)
    @Column(name = "desired_state")
    public DesiredState desiredState;

    @OptimisticLock(excluded = true)
    @Enumerated(EnumType.STRING)
    public VmPhase phase;

    @OptimisticLock(excluded = true)
    public String node;

    @OptimisticLock(excluded = true)
    @Column(name = "last_error")
    public String lastError;

    @Column(name = "created_at")
    public Instant createdAt;

    @Column(name = "updated_at")
    public Instant updatedAt;

    /** A crashed VM is restarted by its node no earlier than this (back-off against crash loops). */
    @OptimisticLock(excluded = true)
    @Column(name = "restart_not_before")
    public Instant restartNotBefore;

    @OptimisticLock(excluded = true)
    @Column(name = "crash_count")
    public int crashCount;

    /**
     * The ETag: it moves with what clients control (specification, desired state, vCPUs), not with what the
     * node observes (fields marked {@code @OptimisticLock(excluded = true)}), so an If-Match is not spoilt by a
     * phase change; writers are serialised by the row lock, not by this.
     */
    @Version
    public long version;

    @OneToMany(mappedBy = "vm", cascade = CascadeType.ALL, orphanRemoval = true)
    @OrderBy("cpuIndex")
    public List<VcpuEntity> vcpus = new ArrayList<>();

    public Topology topology() {
        return new Topology(sockets, dies, cores, threads);
    }

    /** Fixed by the machine type, which a VM keeps for life. */
    public VpIndexPolicy vpIndexPolicy() {
        return MachineType.resolve(machineType).vpIndexPolicy();
    }

    public List<PluggedVcpu> pluggedVcpus() {
        return vcpus.stream().map(VcpuEntity::toDomain).toList();
    }

    public Optional<VcpuEntity> vcpuWithApicId(int apicId) {
        return vcpus.stream().filter(v -> v.apicId == apicId).findFirst();
    }

    public static Optional<VmEntity> findByName(String name) {
        return find("name", name).firstResultOptional();
    }
}
