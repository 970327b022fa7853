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
import java.util.UUID;

/** A node a boot ran on from {@code arrivedAt}: where it opened, or where a migration moved it (V6). */
@Entity
@Table(name = "guest_boot_residence")
public class GuestBootResidenceEntity extends PanacheEntityBase {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    public Long id;

    @ManyToOne(fetch = FetchType.LAZY, optional = false)
    @JoinColumn(name = "boot_id", updatable = false)
    public GuestBootEntity boot;

    @Column(updatable = false)
    public String node;

    /** {@link io.quarkvm.domain.HypervisorKind}. */
    @Column(updatable = false)
    public String hypervisor;

    /** {@link io.quarkvm.domain.VpIndexProvider}. */
    @Column(updatable = false)
    public String provider;

    @Column(name = "arrived_at", updatable = false)
    public Instant arrivedAt;

    /** The migration that brought the boot here; null for the node it opened on. */
    @Column(name = "migration_id", updatable = false)
    public UUID migrationId;

    /** Where the boot opened: its node, hypervisor and provider, no migration. */
    static GuestBootResidenceEntity openedOn(GuestBootEntity boot, Instant arrivedAt) {
        GuestBootResidenceEntity residence = new GuestBootResidenceEntity();
        residence.boot = boot;
        residence.node = boot.node;
        residence.hypervisor = boot.hypervisor;
        residence.provider = boot.provider;
        residence.arrivedAt = arrivedAt;
        return residence;
    }
}
