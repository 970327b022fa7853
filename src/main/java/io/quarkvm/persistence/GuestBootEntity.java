package io.quarkvm.persistence;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import io.quarkvm.domain.HypervisorKind;
import io.quarkvm.domain.VpIndexProvider;
import jakarta.persistence.CascadeType;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.OneToMany;
import jakarta.persistence.OrderBy;
import jakarta.persistence.Table;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/** One start of a VM (V2__guest_boots.sql), with what its guest observed on each vCPU. */
@Entity
@Table(name = "guest_boot")
public class GuestBootEntity extends PanacheEntityBase {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    public Long id;

    @Column(name = "vm_id")
    public UUID vmId;

    public int boot;

    public String node;

    public String provider;

    /** {@link io.quarkvm.domain.HypervisorKind}: what ran this boot's guest. */
    public String hypervisor;

    @Column(name = "started_at")
    public Instant startedAt;

    @Column(name = "ended_at")
    public Instant endedAt;

    @Column(name = "end_reason")
    public String endReason;

    @OneToMany(mappedBy = "boot", cascade = CascadeType.ALL, orphanRemoval = true)
    @OrderBy("cpuIndex")
    public List<GuestVcpuObservationEntity> vcpus = new ArrayList<>();

    /** The nodes it ran on, in the order it arrived on them; the last is where it runs (or ended). */
    @OneToMany(mappedBy = "boot", cascade = CascadeType.ALL, orphanRemoval = true)
    @OrderBy("arrivedAt, id")
    public List<GuestBootResidenceEntity> residences = new ArrayList<>();

    public static List<GuestBootEntity> ofVm(UUID vmId) {
        return list("vmId = ?1 order by boot", vmId);
    }

    public static int nextBootNumber(UUID vmId) {
        Optional<GuestBootEntity> last = find("vmId = ?1 order by boot desc", vmId).firstResultOptional();
        return last.map(b -> b.boot + 1).orElse(1);
    }

    /**
     * From {@code at} the boot runs on this node, hypervisor and provider, where it opened (a migration moves it in
     * io.quarkvm.service.MigrationRecords#completeOnTarget, one statement).
     */
    public void openOn(String node, HypervisorKind hypervisor, VpIndexProvider provider, Instant at) {
        this.node = node;
        this.hypervisor = hypervisor.name();
        this.provider = provider.name();
        residences.add(GuestBootResidenceEntity.openedOn(this, at));
    }

    public Optional<GuestVcpuObservationEntity> vcpu(int cpuIndex) {
        return vcpus.stream().filter(v -> v.cpuIndex == cpuIndex).findFirst();
    }
}
