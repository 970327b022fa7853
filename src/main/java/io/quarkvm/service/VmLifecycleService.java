package io.quarkvm.service;

import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkvm.domain.ConflictException;
import io.quarkvm.domain.DesiredState;
import io.quarkvm.domain.VmAction;
import io.quarkvm.domain.VmPhase;
import io.quarkvm.domain.VmStateMachine;
import io.quarkvm.node.NodeDirectory;
import io.quarkvm.node.PhaseChanges;
import io.quarkvm.persistence.DatabaseNotifications;
import io.quarkvm.persistence.VmEntity;
import io.quarkvm.persistence.VmEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.persistence.LockModeType;
import org.hibernate.Hibernate;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;

/**
 * Start, stop, pause, resume: the API only records what is wanted (desired state, and the node on a start) and
 * wakes the owning node; that node's reconciler makes it so. A caller may wait until it is observed.
 */
@ApplicationScoped
public class VmLifecycleService {

    private final NodeDirectory nodes;
    private final PhaseChanges phaseChanges;
    private final DatabaseNotifications notifications;

    VmLifecycleService(NodeDirectory nodes, PhaseChanges phaseChanges, DatabaseNotifications notifications) {
        this.nodes = nodes;
        this.phaseChanges = phaseChanges;
        this.notifications = notifications;
    }

    /**
     * Records what is asked. Besides the state machine's changes, a start re-places a VM that should run but whose
     * node is gone (not one a migration is handing over: the migration says where it runs), and a stop of a VM whose
     * node is gone releases it at once.
     */
    public LifecycleOutcome request(UUID id, VmAction action, ExpectedVersion expected, Duration wait) {
        VmEntity vm = QuarkusTransaction.requiringNew().call(() -> {
            VmEntity locked = VmEntity.<VmEntity>findByIdOptional(id, LockModeType.PESSIMISTIC_WRITE)
                    .orElseThrow(() -> new VmNotFoundException(id));
            expected.check(locked.version);
            boolean changed = VmStateMachine.apply(action, locked.desiredState, locked.phase) == VmStateMachine.Transition.CHANGED;
            if (changed || action == VmAction.START && locked.desiredState != DesiredState.STOPPED
                    && !placedOnLiveNode(locked) && !locked.phase.isHandover()) {
                change(locked, action);
                locked.updatedAt = Instant.now();
                VmEntity.flush();
                notifications.announce(VmEvent.ofVm("desired", locked));
            }
            if (isSettled(locked) || wait.isZero()) {
                Hibernate.initialize(locked.vcpus); // answered from this read; a waiting request reads again
            }
            return locked;
        });
        if (isSettled(vm) || wait.isZero()) {
            return new LifecycleOutcome(vm, isSettled(vm));
        }
        return awaitSettled(id, wait);
    }

    private void change(VmEntity vm, VmAction action) {
        if (action == VmAction.START) {
            var placement = nodes.place(Optional.ofNullable(vm.node), vm.vpIndexPolicy(), vm.topology(), vm.hypervVpIndex);
            if (placement.node() == null) {
                throw new ConflictException("VM " + vm.name + " cannot start: " + placement.refusal());
            }
            if (vm.phase == VmPhase.CRASHED || !placedOnLiveNode(vm)) {
                vm.phase = VmPhase.STOPPED; // what a dead node last reported is history
            }
            vm.node = placement.node();
            vm.lastError = null;
            vm.restartNotBefore = null;
            vm.crashCount = 0;
        }
        if (action == VmAction.STOP && (vm.phase == VmPhase.CRASHED || !placedOnLiveNode(vm))) {
            // A crashed VM holds nothing on its node any more, and a dead node runs nothing: stopping such a VM
            // only clears the record (a node that comes back stops what it finds placed elsewhere).
            vm.phase = VmPhase.STOPPED;
            vm.node = null;
        }
        vm.desiredState = action.target();
    }

    private boolean placedOnLiveNode(VmEntity vm) {
        return vm.node != null && nodes.isLive(vm.node);
    }

    /** Waits, without holding a transaction, until the VM's phase is what was asked, or it crashed. */
    private LifecycleOutcome awaitSettled(UUID id, Duration wait) {
        VmEntity vm = phaseChanges.awaitUntil(() -> QuarkusTransaction.requiringNew().call(() -> {
            VmEntity current = VmEntity.<VmEntity>findByIdOptional(id).orElseThrow(() -> new VmNotFoundException(id));
            Hibernate.initialize(current.vcpus);
            return current;
        }), current -> isSettled(current) || current.phase == VmPhase.CRASHED, wait);
        return new LifecycleOutcome(vm, isSettled(vm));
    }

    static boolean isSettled(VmEntity vm) {
        return switch (vm.desiredState) {
            case RUNNING -> vm.phase == VmPhase.RUNNING;
            case PAUSED -> vm.phase == VmPhase.PAUSED;
            case STOPPED -> vm.phase == VmPhase.STOPPED;
        };
    }
}
