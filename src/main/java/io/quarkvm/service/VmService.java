package io.quarkvm.service;

import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.panache.common.Page;
import io.quarkus.panache.common.Sort;
import io.quarkvm.domain.ConflictException;
import io.quarkvm.domain.DesiredState;
import io.quarkvm.domain.InvalidSpecificationException;
import io.quarkvm.domain.PluggedVcpu;
import io.quarkvm.domain.Slot;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VcpuPlugRules;
import io.quarkvm.domain.VmPhase;
import io.quarkvm.domain.VmSpecification;
import io.quarkvm.persistence.DatabaseNotifications;
import io.quarkvm.persistence.VcpuEntity;
import io.quarkvm.persistence.VmEvent;
import io.quarkvm.persistence.VmEntity;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.persistence.LockModeType;
import org.hibernate.Hibernate;
import org.hibernate.exception.ConstraintViolationException;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Function;

/**
 * The use cases on VMs. Each runs in its own transaction and returns the VM as committed (its vCPUs loaded), so a
 * caller never sees a state the database does not hold. A change locks the VM's row first (SELECT ... FOR UPDATE),
 * so concurrent changes to one VM, from any node, run one after the other; each then checks the client's If-Match
 * against the version it found, and bumps the version when it changed something.
 */
@ApplicationScoped
public class VmService {

    private final DatabaseNotifications notifications;

    VmService(DatabaseNotifications notifications) {
        this.notifications = notifications;
    }

    public VmEntity create(VmSpecification spec) {
        try {
            return QuarkusTransaction.requiringNew().call(() -> {
                if (VmEntity.findByName(spec.name()).isPresent()) {
                    throw duplicateName(spec.name());
                }
                VmEntity vm = new VmEntity();
                vm.id = UUID.randomUUID();
                vm.name = spec.name();
                vm.machineType = spec.machineType().typeName();
                vm.sockets = spec.topology().sockets();
                vm.dies = spec.topology().dies();
                vm.cores = spec.topology().cores();
                vm.threads = spec.topology().threads();
                vm.memoryMib = spec.memoryMiB();
                vm.hypervVpIndex = spec.hypervVpIndex();
                vm.guestKind = spec.guestKind().kindName();
                vm.desiredState = DesiredState.STOPPED;
                vm.phase = VmPhase.STOPPED;
                vm.createdAt = Instant.now();
                vm.updatedAt = vm.createdAt;
                for (VcpuIdentity identity : VcpuPlugRules.bootIdentities(spec.topology(), vm.vpIndexPolicy(), spec.vcpus())) {
                    vm.vcpus.add(VcpuEntity.firstPlugged(vm, identity));
                }
                vm.persistAndFlush();
                notifications.announce(VmEvent.ofVm("created", vm));
                return vm;
            });
        } catch (RuntimeException e) {
            if (isUniqueViolation(e, "vm_name_key")) {
                throw duplicateName(spec.name());
            }
            throw e;
        }
    }

    public VmPage list(int page, int size) {
        if (page < 0 || (long) page * VmPage.MAX_SIZE > Integer.MAX_VALUE) {
            throw new InvalidSpecificationException("page", "page must be between 0 and "
                    + Integer.MAX_VALUE / VmPage.MAX_SIZE + ", was " + page);
        }
        if (size < 1 || size > VmPage.MAX_SIZE) {
            throw new InvalidSpecificationException("size", "size must be between 1 and " + VmPage.MAX_SIZE + ", was " + size);
        }
        return QuarkusTransaction.requiringNew().call(() -> {
            var query = VmEntity.<VmEntity>findAll(Sort.by("createdAt").and("id")).page(Page.of(page, size));
            List<VmEntity> items = query.list();
            items.forEach(vm -> Hibernate.initialize(vm.vcpus));
            return new VmPage(items, query.count(), page, size);
        });
    }

    public VmEntity get(UUID id) {
        return QuarkusTransaction.requiringNew().call(() -> {
            VmEntity vm = require(id);
            Hibernate.initialize(vm.vcpus);
            return vm;
        });
    }

    public void delete(UUID id, ExpectedVersion expected) {
        QuarkusTransaction.requiringNew().run(() -> {
            VmEntity vm = requireLocked(id);
            expected.check(vm.version);
            if (vm.phase != VmPhase.STOPPED && vm.phase != VmPhase.CRASHED || vm.desiredState != DesiredState.STOPPED) {
                throw new ConflictException("VM " + vm.name + " is " + vm.phase + " (desired " + vm.desiredState
                        + "); stop it before deleting it");
            }
            notifications.announce(VmEvent.ofVm("deleted", vm));
            vm.delete();
        });
    }

    /** Plugs a slot: a slot plugged before gets its old identity back, a new one the next cpu_index. */
    public VmEntity plug(UUID id, Slot slot, ExpectedVersion expected) {
        return change(id, expected, vm -> {
            VcpuPlugRules.requireNoHandover(vm.name, vm.phase);
            List<PluggedVcpu> known = vm.pluggedVcpus();
            VcpuIdentity identity = VcpuPlugRules.identityToPlug(vm.topology(), vm.vpIndexPolicy(), known, slot);
            VcpuEntity vcpu = vm.vcpuWithApicId(identity.apicId()).orElseGet(() -> {
                VcpuEntity first = VcpuEntity.firstPlugged(vm, identity);
                vm.vcpus.add(first);
                return first;
            });
            vcpu.plugged = true;
            return Optional.of(VmEvent.ofVcpu("vcpu-plugged", vm, vcpu));
        });
    }

    /** Unplugs the vCPU with this APIC ID; its identity stays reserved for a replug of the same slot. */
    public VmEntity unplug(UUID id, int apicId, ExpectedVersion expected) {
        return change(id, expected, vm -> {
            VcpuPlugRules.requireNoHandover(vm.name, vm.phase);
            PluggedVcpu vcpu = VcpuPlugRules.vcpuToUnplug(vm.pluggedVcpus(), apicId)
                    .orElseThrow(() -> new VcpuNotFoundException(id, apicId));
            if (!vcpu.plugged()) {
                return Optional.empty();
            }
            VcpuEntity unplugged = vm.vcpuWithApicId(apicId).orElseThrow();
            unplugged.plugged = false;
            return Optional.of(VmEvent.ofVcpu("vcpu-unplugged", vm, unplugged));
        });
    }

    /**
     * Applies {@code mutation} to the current VM in one transaction; when it reports a change (as the event to
     * announce) the VM's version moves on (updated_at dirties the row, and Hibernate bumps {@code version}).
     */
    private VmEntity change(UUID id, ExpectedVersion expected, Function<VmEntity, Optional<VmEvent>> mutation) {
        VmEntity changed = QuarkusTransaction.requiringNew().call(() -> {
            VmEntity vm = requireLocked(id);
            expected.check(vm.version);
            Optional<VmEvent> event = mutation.apply(vm);
            if (event.isPresent()) {
                vm.updatedAt = Instant.now();
                VmEntity.flush();
                notifications.announce(event.get().withVersion(vm.version));
            }
            Hibernate.initialize(vm.vcpus);
            return vm;
        });
        return changed;
    }

    private static VmEntity require(UUID id) {
        return VmEntity.<VmEntity>findByIdOptional(id).orElseThrow(() -> new VmNotFoundException(id));
    }

    private static VmEntity requireLocked(UUID id) {
        return VmEntity.<VmEntity>findByIdOptional(id, LockModeType.PESSIMISTIC_WRITE)
                .orElseThrow(() -> new VmNotFoundException(id));
    }

    private static ConflictException duplicateName(String name) {
        return new ConflictException("a VM named '" + name + "' already exists");
    }

    /** Whether the database refused a write for a unique constraint (or index) whose name starts so. */
    static boolean isUniqueViolation(Throwable e, String constraintPrefix) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ConstraintViolationException violation && violation.getConstraintName() != null
                    && violation.getConstraintName().startsWith(constraintPrefix)) {
                return true;
            }
        }
        return false;
    }
}
