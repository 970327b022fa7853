package io.quarkvm.persistence;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.ManyToOne;
import jakarta.persistence.Table;

import java.time.Instant;

/** A vCPU's persisted identity in one boot, next to what the probe guest read on it. */
@Entity
@Table(name = "guest_vcpu_observation")
public class GuestVcpuObservationEntity extends PanacheEntityBase {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    public Long id;

    @ManyToOne(fetch = FetchType.LAZY, optional = false)
    @JoinColumn(name = "boot_id")
    public GuestBootEntity boot;

    @Column(name = "cpu_index")
    public int cpuIndex;

    @Column(name = "apic_id")
    public int apicId;

    @Column(name = "vp_index")
    public int vpIndex;

    @Column(name = "reported_at")
    public Instant reportedAt;

    /** CPUID 0x1 EBX[31:24]: the legacy 8-bit APIC ID. */
    @Column(name = "observed_apic_id_leaf1")
    public Integer observedApicIdLeaf1;

    @Column(name = "observed_x2apic_id")
    public Integer observedX2apicId;

    @Column(name = "observed_vp_index")
    public Integer observedVpIndex;

    @Column(name = "hyperv_leaves_found")
    public Boolean hypervLeavesFound;

    @Column(name = "vp_index_write_refused")
    public Boolean vpIndexWriteRefused;

    public long heartbeats;

    public int violations;
}
