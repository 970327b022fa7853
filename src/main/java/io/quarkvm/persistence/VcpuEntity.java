package io.quarkvm.persistence;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import io.quarkvm.domain.PluggedVcpu;
import io.quarkvm.domain.Slot;
import io.quarkvm.domain.VcpuIdentity;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.ManyToOne;
import jakarta.persistence.Table;

/**
 * A slot that has been plugged at least once. Its identity columns are written when the row is created and never
 * updated (updatable = false), so no code path can recompute an identity behind the guest's back.
 */
@Entity
@Table(name = "vcpu")
public class VcpuEntity extends PanacheEntityBase {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    public Long id;

    @ManyToOne(fetch = FetchType.LAZY, optional = false)
    @JoinColumn(name = "vm_id", updatable = false)
    public VmEntity vm;

    @Column(name = "cpu_index", updatable = false)
    public int cpuIndex;

    @Column(name = "apic_id", updatable = false)
    public int apicId;

    @Column(name = "vp_index", updatable = false)
    public int vpIndex;

    @Column(updatable = false)
    public int socket;

    @Column(updatable = false)
    public int die;

    @Column(updatable = false)
    public int core;

    @Column(updatable = false)
    public int thread;

    public boolean plugged;

    public static VcpuEntity firstPlugged(VmEntity vm, VcpuIdentity identity) {
        VcpuEntity entity = new VcpuEntity();
        entity.vm = vm;
        entity.cpuIndex = identity.cpuIndex();
        entity.apicId = identity.apicId();
        entity.vpIndex = identity.vpIndex();
        entity.socket = identity.slot().socket();
        entity.die = identity.slot().die();
        entity.core = identity.slot().core();
        entity.thread = identity.slot().thread();
        entity.plugged = true;
        return entity;
    }

    public VcpuIdentity identity() {
        return new VcpuIdentity(new Slot(socket, die, core, thread), cpuIndex, apicId, vpIndex);
    }

    public PluggedVcpu toDomain() {
        return new PluggedVcpu(identity(), plugged);
    }
}
