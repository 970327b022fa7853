package io.quarkvm.node;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.quarkvm.config.QuarkvmConfig;
import io.quarkvm.domain.DesiredState;
import io.quarkvm.domain.GuestKind;
import io.quarkvm.domain.PlacementDecision;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VmPhase;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.persistence.DatabaseNotifications;
import io.quarkvm.persistence.DatabaseUnavailable;
import io.quarkvm.persistence.VcpuEntity;
import io.quarkvm.persistence.VmEvent;
import io.quarkvm.persistence.VmEntity;
import io.quarkvm.vmm.GuestIdentity;
import io.quarkvm.vmm.GuestProgram;
import io.quarkvm.vmm.ProbeRecord;
import io.quarkvm.vmm.VirtualMachine;
import io.quarkvm.vmm.VmListener;
import io.quarkvm.vmm.VmSpec;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Event;
import jakarta.enterprise.event.Observes;
import jakarta.persistence.LockModeType;
import org.hibernate.Hibernate;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Drives the VMs placed on this node towards their desired state, one step at a time from what is desired and what
 * is observed. The steps go through a {@link WorkQueue} keyed by VM: one worker at a time makes every change to a
 * VM, so two changes never race, while a few workers take different VMs in parallel, so one VM slow to start or to
 * stop never holds up the others. Waiting (for a machine to release itself, for a guest to report) has a limit and
 * is taken up again later rather than holding a worker. The queue is fed by this node's API, PostgreSQL NOTIFY from
 * any node, a VM's own threads (a crash), and a periodic sweep that catches anything missed. A VM a migration is
 * handing over ({@link VmPhase#isHandover()}) is the migration's: no step is taken for it.
 */
@ApplicationScoped
public class VmReconciler {

    private static final Logger LOG = Logger.getLogger(VmReconciler.class);
    /** A boot counts as up when every boot vCPU has reported, or after this long without it. */
    private static final Duration BOOT_REPORT_WAIT = Duration.ofSeconds(2);
    /** How often a boot whose reports the writer is retrying is looked at again. */
    private static final Duration REPORTS_RECHECK = Duration.ofMillis(500);
    private static final Duration FIRST_RESTART_DELAY = Duration.ofSeconds(5);
    private static final Duration LONGEST_RESTART_DELAY = Duration.ofMinutes(5);
    /** A VM that ran this long before crashing is not in a crash loop: its back-off starts over. */
    private static final Duration STABLE_RUN = Duration.ofMinutes(10);
    private static final long COUNTER_FLUSH_MILLIS = 1000;
    /** How long a worker waits for a stopping machine to release itself before it looks again later. */
    private static final Duration STOP_WAIT = Duration.ofMillis(500);
    private static final Duration STOP_RECHECK = Duration.ofMillis(250);
    /** What is still running when the node shuts down is given this long to stop. */
    private static final Duration SHUTDOWN_STOP_WAIT = Duration.ofSeconds(30);
    private static final Duration FIRST_RETRY_DELAY = Duration.ofMillis(250);
    private static final Duration LONGEST_RETRY_DELAY = Duration.ofSeconds(30);

    private final LocalNode node;
    private final BootRecorder boots;
    private final PhaseChanges phaseChanges;
    private final DatabaseNotifications notifications;
    private final QuarkvmConfig config;

    private final Map<UUID, LocalVm> local = new ConcurrentHashMap<>();
    private volatile boolean running;
    private volatile WorkQueue<UUID> work;
    private ScheduledExecutorService timers;
    private ExecutorService observationWriter;
    private ReportWriter reports;

    private final MeterRegistry metrics;
    private final Event<MigrationDue> migrationsDue;

    VmReconciler(LocalNode node, BootRecorder boots, PhaseChanges phaseChanges, DatabaseNotifications notifications,
                 QuarkvmConfig config, MeterRegistry metrics, Event<MigrationDue> migrationsDue) {
        this.metrics = metrics;
        this.migrationsDue = migrationsDue;
        Gauge.builder("quarkvm.vms.running", local, Map::size).description("VMs running on this node").register(metrics);
        this.node = node;
        this.boots = boots;
        this.phaseChanges = phaseChanges;
        this.notifications = notifications;
        this.config = config;
    }

    void start(@Observes @Priority(20) StartupEvent event) {
        if (!node.canRunVms()) {
            return;
        }
        boots.endBootsLeftOpen(node.name(), "the service on node " + node.name() + " stopped without stopping it");
        running = true;
        observationWriter = Executors.newSingleThreadExecutor(r -> new Thread(r, "guest-observations"));
        reports = new ReportWriter(boots, new ReportWriter.BootUp() {
            @Override
            public void recordUp(LocalVm vm) {
                recordRunningIfStarting(vm);
            }

            @Override
            public void afterUp(LocalVm vm) {
                startLatency().record(System.nanoTime() - vm.startedNanos, TimeUnit.NANOSECONDS);
                phaseChanges.recorded();
                enqueue(vm.id);
            }
        });
        work = new WorkQueue<>("vm-reconciler", config.node().reconcileWorkers(), FIRST_RETRY_DELAY,
                LONGEST_RETRY_DELAY, this::reconcileOrRecord);
        notifications.onVmChanged(this::enqueue);
        timers = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "vm-reconciler-timers"));
        notifications.onResubscribed(() -> timers.execute(this::sweep));
        long sweep = config.node().sweepInterval().toMillis();
        timers.scheduleWithFixedDelay(this::sweep, 0, sweep, TimeUnit.MILLISECONDS);
        timers.scheduleWithFixedDelay(this::flushCounters, COUNTER_FLUSH_MILLIS, COUNTER_FLUSH_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** A graceful stop stops every local VM cleanly and records it; what was desired stays, for the next start. */
    void stop(@Observes @Priority(5) ShutdownEvent event) throws InterruptedException {
        if (!running) {
            return;
        }
        running = false;
        timers.shutdownNow();
        if (!work.shutDown(SHUTDOWN_STOP_WAIT)) {
            LOG.warnf("a reconcile was still going %d s after shutdown began", SHUTDOWN_STOP_WAIT.toSeconds());
        }
        for (LocalVm vm : List.copyOf(local.values())) {
            vm.beginStop("node " + node.name() + " shut down", false);
            if (!released(vm, SHUTDOWN_STOP_WAIT)) {
                LOG.errorf("VM %s did not stop within %d s of shutdown", vm.id, SHUTDOWN_STOP_WAIT.toSeconds());
                continue;
            }
            setPhase(vm.id, VmPhase.STOPPED, "stopped because node " + node.name() + " shut down", false);
        }
        reports.close();
        observationWriter.shutdown();
        observationWriter.awaitTermination(10, TimeUnit.SECONDS);
    }

    public void enqueue(UUID vmId) {
        WorkQueue<UUID> queue = work;
        if (queue != null) {
            queue.enqueue(vmId);
        }
    }

    /** One step for the VM; a failure is recorded on it and retried with back-off (the queue's). */
    private Duration reconcileOrRecord(UUID vmId) {
        try {
            return reconcile(vmId);
        } catch (RuntimeException e) {
            if (DatabaseUnavailable.causedBy(e)) {
                // Says nothing about the VM: it is left exactly as it is until the database answers again.
                LOG.warnf("VM %s left as it is while the database is unavailable: %s", vmId, e.getMessage());
            } else {
                LOG.errorf(e, "reconciling VM %s failed; it will be tried again", vmId);
                recordError(vmId, "node " + node.name() + " could not bring the VM to its desired state: " + e.getMessage());
            }
            throw e;
        }
    }

    /** @return when to look at the VM again without being asked ({@link Duration#ZERO}: only when asked) */
    private Duration reconcile(UUID vmId) {
        VmEntity vm = QuarkusTransaction.requiringNew().call(() -> {
            VmEntity found = VmEntity.findById(vmId);
            if (found != null) {
                Hibernate.initialize(found.vcpus);
            }
            return found;
        });
        if (vm != null && vm.phase.isHandover()) {
            if (vm.phase == VmPhase.MIGRATING_OUT && node.name().equals(vm.node)) {
                migrationsDue.fire(MigrationDue.of(vmId)); // this node is the source: it runs the migration
            }
            return Duration.ZERO; // the migration's until it records how the handover ended
        }
        LocalVm here = local.get(vmId);
        if (here != null && !here.isStopping() && !isAlive(here.machine)) {
            here.beginStop("crashed: " + here.machine.crashReason().orElse("the machine stopped by itself"), true);
        }
        if (here != null && here.isStopping()) {
            if (!released(here, STOP_WAIT)) {
                return STOP_RECHECK;
            }
            if (here.crashed()) {
                recordCrash(here);
                return Duration.ZERO;
            }
            here = null;
        }
        if (vm == null || !node.name().equals(vm.node)) {
            if (here != null) {
                here.beginStop(vm == null ? "the VM was deleted" : "the VM is placed on node " + vm.node, false);
                return released(here, STOP_WAIT) ? Duration.ZERO : STOP_RECHECK;
            }
            return Duration.ZERO;
        }
        if (vm.desiredState == DesiredState.STOPPED) {
            if (here != null) {
                setPhase(vmId, VmPhase.STOPPING, null, false);
                here.beginStop("stopped on request", false);
                if (!released(here, STOP_WAIT)) {
                    return STOP_RECHECK;
                }
            }
            setPhase(vmId, VmPhase.STOPPED, null, true);
            return Duration.ZERO;
        }
        if (here == null) {
            if (vm.phase == VmPhase.CRASHED && vm.restartNotBefore != null && Instant.now().isBefore(vm.restartNotBefore)) {
                return Duration.between(Instant.now(), vm.restartNotBefore);
            }
            here = startLocal(vm);
            if (here == null) {
                return Duration.ZERO;
            }
        }
        if (!isAlive(here.machine)) {
            here.beginStop("crashed: " + here.machine.crashReason().orElse("the machine stopped by itself"), true);
            return Duration.ofMillis(1); // the crash is recorded once the machine has released itself
        }
        plugAsPersisted(vm, here);
        VirtualMachine machine = here.machine;
        if (vm.desiredState == DesiredState.PAUSED && machine.state() == VirtualMachine.State.RUNNING) {
            machine.pause();
        } else if (vm.desiredState == DesiredState.RUNNING && machine.state() == VirtualMachine.State.PAUSED) {
            machine.resume();
        }
        VmPhase observed = machine.state() == VirtualMachine.State.PAUSED ? VmPhase.PAUSED : VmPhase.RUNNING;
        if (observed == VmPhase.RUNNING && !here.isUp()) {
            // RUNNING means the guest is up on every boot vCPU: until they have all reported and their reports are
            // committed (or a guest that never reports has had its chance), the VM is still STARTING; committing the
            // last report wakes this loop again. Reports the guest made but the database has not yet taken are
            // waited for, however long the writer has to retry them.
            long waitedMillis = Duration.ofNanos(System.nanoTime() - here.startedNanos).toMillis();
            if (waitedMillis < BOOT_REPORT_WAIT.toMillis() || here.hasReportsUncommitted()) {
                // A guest that never reports is RUNNING all the same once it has had its chance.
                return Duration.ofMillis(Math.max(BOOT_REPORT_WAIT.toMillis() - waitedMillis, REPORTS_RECHECK.toMillis()));
            }
        }
        if (vm.phase != observed) {
            setPhase(vmId, observed, null, false);
        }
        return Duration.ZERO;
    }

    /**
     * The boot's last report is being committed: a VM that is meant to run and was STARTING is RUNNING in the same
     * transaction. Anything else (a pause asked meanwhile, a crash) is left to the reconcile this then triggers.
     */
    private void recordRunningIfStarting(LocalVm vm) {
        VmEntity row = VmEntity.findById(vm.id, LockModeType.PESSIMISTIC_WRITE);
        if (row != null && row.desiredState == DesiredState.RUNNING && row.phase == VmPhase.STARTING
                && vm.machine != null && vm.machine.state() == VirtualMachine.State.RUNNING) {
            applyPhase(vm.id, VmPhase.RUNNING, null, false);
        }
    }

    private static boolean isAlive(VirtualMachine machine) {
        VirtualMachine.State state = machine.state();
        return state == VirtualMachine.State.RUNNING || state == VirtualMachine.State.PAUSED;
    }

    private LocalVm startLocal(VmEntity vm) {
        PlacementDecision decision = node.placementOf(vm);
        if (decision instanceof PlacementDecision.Refused refused) {
            recordFailedStart(vm.id, "cannot run here: " + refused.reason());
            return null;
        }
        VpIndexProvider provider = ((PlacementDecision.Accepted) decision).provider();
        List<VcpuIdentity> plugged = vm.vcpus.stream().filter(v -> v.plugged).map(VcpuEntity::identity).toList();
        long bootId = QuarkusTransaction.requiringNew().call(() -> {
            applyPhase(vm.id, VmPhase.STARTING, null, false);
            return boots.openBoot(vm.id, node.name(), node.hypervisorKind(), provider, plugged);
        });
        phaseChanges.recorded();
        LocalVm started = new LocalVm(vm.id, bootId, plugged.size());
        VmSpec spec = specFor(vm, provider, plugged);
        try {
            started.machine = VirtualMachine.start(node.hypervisor().orElseThrow(), spec, listenerFor(started));
        } catch (RuntimeException e) {
            boots.endBoot(started.bootId, node.name(), "failed to start: " + e.getMessage());
            recordFailedStart(vm.id, "failed to start: " + e.getMessage());
            return null;
        }
        local.put(vm.id, started);
        LOG.infof("VM %s (%s) started on node %s as boot of %d vCPUs through %s", vm.name, vm.id, node.name(),
                plugged.size(), provider);
        return started;
    }

    /** What the VMM is to build for {@code vm} on this node: its persisted identities, through {@code provider}. */
    public static VmSpec specFor(VmEntity vm, VpIndexProvider provider, List<VcpuIdentity> plugged) {
        return new VmSpec(vm.memoryMib, vm.topology(), plugged, vm.hypervVpIndex, provider,
                program(GuestKind.resolve(vm.guestKind)))
                .withKnownVcpus(vm.vcpus.stream().map(VcpuEntity::identity).toList(), vm.vpIndexPolicy());
    }

    /** The machine of a VM running here (not one stopping), for the migration that moves it. */
    public Optional<VirtualMachine> machineOf(UUID vmId) {
        return Optional.ofNullable(local.get(vmId)).filter(vm -> !vm.isStopping()).map(vm -> vm.machine);
    }

    /** A VM about to arrive by migration, continuing boot {@code bootId}: see {@link Arrival}. */
    public Arrival arrival(UUID vmId, long bootId) {
        LocalVm arriving = new LocalVm(vmId, bootId, 0); // its guest reported long ago, on the source
        return new Arrival(listenerFor(arriving), machine -> {
            arriving.machine = machine;
            local.put(vmId, arriving);
        });
    }

    /**
     * The VM now runs on another node, which took over its boot: its machine here is stopped and forgotten, and the
     * boot is not ended (nor its counters written from here again).
     */
    public void leftByMigration(UUID vmId) {
        LocalVm gone = local.remove(vmId);
        if (gone != null) {
            gone.machine.stop();
        }
    }

    /** Live hot-plug: the running machine's vCPUs follow the persisted plugged flags, in cpu_index order. */
    private void plugAsPersisted(VmEntity vm, LocalVm here) {
        List<VcpuIdentity> wanted = vm.vcpus.stream().filter(v -> v.plugged).map(VcpuEntity::identity).toList();
        List<VcpuIdentity> present = here.machine.pluggedVcpus();
        for (VcpuIdentity identity : present) {
            if (!wanted.contains(identity)) {
                here.machine.park(identity.apicId());
                LOG.infof("VM %s: parked vCPU %s", vm.name, identity);
            }
        }
        for (VcpuIdentity identity : wanted) {
            if (!present.contains(identity)) {
                boots.addVcpu(here.bootId, identity);
                here.machine.hotplug(identity);
                LOG.infof("VM %s: hot-plugged vCPU %s", vm.name, identity);
            }
        }
    }

    private static GuestProgram program(GuestKind kind) {
        return switch (kind) {
            case PROBE -> GuestProgram.probe();
            case TRIPLE_FAULT -> GuestProgram.tripleFault();
            case DIRTY_MEMORY -> GuestProgram.dirtyMemory();
        };
    }

    VmListener listenerFor(LocalVm vm) {
        return new VmListener() {
            @Override
            public void identityReported(GuestIdentity observed) {
                reports.submit(new BootRecorder.Report(vm.bootId, observed, Instant.now()), vm);
            }

            @Override
            public void violationReported(int cpuIndex, ProbeRecord record) {
                if (record.violations() == 1) {
                    LOG.errorf("VM %s: the guest on cpu_index %d saw its identity change: %s", vm.id, cpuIndex, record);
                }
                writeObservation(() -> boots.recordCounters(vm.bootId, node.name(), Map.of(cpuIndex, record)));
            }

            @Override
            public void crashed(String reason) {
                enqueue(vm.id);
            }

            @Override
            public void stopped() {
                enqueue(vm.id); // a stop that outlasted its worker's wait is taken up again at once
            }
        };
    }

    private void writeObservation(Runnable write) {
        observationWriter.execute(() -> {
            try {
                write.run();
            } catch (RuntimeException e) {
                LOG.warnf("could not record a guest observation: %s", e.getMessage());
            }
        });
    }

    /**
     * Stops the machine of a VM that is stopping (a crashed one stops by itself), waiting no longer than
     * {@code atMost}; once it has released everything, the VM is no longer local and its boot is ended. Its
     * resources must be gone before the VM may start again.
     *
     * @return whether that is done
     */
    private boolean released(LocalVm vm, Duration atMost) {
        if (vm.askingMachineToStop()) {
            flushCounters(vm); // a stopping machine answers only once it has stopped
        }
        try {
            if (!vm.machine.stop(atMost)) {
                LOG.debugf("VM %s (%s) is still stopping", vm.id, vm.machine.name());
                return false;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
        local.remove(vm.id);
        boots.endBoot(vm.bootId, node.name(), vm.stopReason());
        return true;
    }

    private void recordCrash(LocalVm vm) {
        String reason = vm.machine.crashReason().orElse("the machine stopped by itself");
        LOG.warnf("VM %s crashed: %s", vm.id, reason);
        Duration ran = Duration.ofNanos(System.nanoTime() - vm.startedNanos);
        recordFailedStart(vm.id, reason, ran.compareTo(STABLE_RUN) >= 0);
    }

    /** CRASHED with the reason, and the earliest restart pushed back further with every crash in a row. */
    private void recordFailedStart(UUID vmId, String reason) {
        recordFailedStart(vmId, reason, false);
    }

    /** Tagged with the backend, known only once the node has opened it (after this bean is built). */
    private Timer startLatency() {
        return Timer.builder("quarkvm.vm.start")
                .description("From the reconciler taking up a start until every boot vCPU's guest has reported")
                .tag("hypervisor", node.hypervisorKind().name()).publishPercentiles(0.5, 0.9).register(metrics);
    }

    private Counter crashes() {
        return Counter.builder("quarkvm.vm.crashes").description("Guest crashes and failed starts")
                .tag("hypervisor", node.hypervisorKind().name()).register(metrics);
    }

    /** @param afterStableRun the VM ran long enough before this crash that earlier crashes no longer count */
    private void recordFailedStart(UUID vmId, String reason, boolean afterStableRun) {
        crashes().increment();
        QuarkusTransaction.requiringNew().run(() -> {
            VmEntity vm = VmEntity.findById(vmId, LockModeType.PESSIMISTIC_WRITE);
            if (vm == null) {
                return;
            }
            vm.phase = VmPhase.CRASHED;
            vm.lastError = reason;
            vm.crashCount = afterStableRun ? 1 : vm.crashCount + 1;
            vm.restartNotBefore = Instant.now().plus(restartDelay(vm.crashCount));
            VmEntity.flush();
            notifications.announce(VmEvent.ofVm("phase", vm));
            if (vm.desiredState != DesiredState.STOPPED && running) {
                work.enqueueAfter(vmId, restartDelay(vm.crashCount));
            }
        });
        phaseChanges.recorded();
    }

    static Duration restartDelay(int crashesInARow) {
        Duration delay = FIRST_RESTART_DELAY.multipliedBy(1L << Math.min(crashesInARow - 1, 16));
        return delay.compareTo(LONGEST_RESTART_DELAY) > 0 ? LONGEST_RESTART_DELAY : delay;
    }

    private void setPhase(UUID vmId, VmPhase phase, String lastError, boolean releaseNode) {
        QuarkusTransaction.requiringNew().run(() -> applyPhase(vmId, phase, lastError, releaseNode));
        phaseChanges.recorded();
    }

    /** A failure the VM's record must show (a hot-plug the VMM refused, say), without changing its phase. */
    private void recordError(UUID vmId, String error) {
        try {
            QuarkusTransaction.requiringNew().run(() -> {
                VmEntity vm = VmEntity.findById(vmId, LockModeType.PESSIMISTIC_WRITE);
                if (vm != null && !error.equals(vm.lastError)) {
                    vm.lastError = error;
                    VmEntity.flush();
                    notifications.announce(VmEvent.ofVm("phase", vm));
                }
            });
        } catch (RuntimeException e) {
            LOG.warnf("could not record the error of VM %s: %s", vmId, e.getMessage());
        }
    }

    /** Records an observed phase within the caller's transaction. */
    private void applyPhase(UUID vmId, VmPhase phase, String lastError, boolean releaseNode) {
        VmEntity vm = VmEntity.findById(vmId, LockModeType.PESSIMISTIC_WRITE);
        if (vm == null || vm.phase == phase && !releaseNode && lastError == null) {
            return;
        }
        vm.phase = phase;
        if (lastError != null) {
            vm.lastError = lastError;
        }
        if (phase == VmPhase.RUNNING) {
            vm.restartNotBefore = null;
            vm.lastError = null;
        }
        if (releaseNode) {
            vm.node = null;
        }
        VmEntity.flush();
        notifications.announce(VmEvent.ofVm("phase", vm));
    }

    private void sweep() {
        try {
            List<UUID> placedHere = QuarkusTransaction.requiringNew().call(() ->
                    VmEntity.<VmEntity>list("node", node.name()).stream().map(vm -> vm.id).toList());
            placedHere.forEach(this::enqueue);
            local.keySet().forEach(this::enqueue);
        } catch (RuntimeException e) {
            LOG.warnf("sweep failed: %s", e.getMessage());
        }
    }

    private void flushCounters() {
        for (LocalVm vm : local.values()) {
            if (vm.isStopping()) {
                continue; // the stop flushed them; asking a stopping machine waits for the stop
            }
            try {
                flushCounters(vm);
            } catch (RuntimeException e) {
                LOG.debugf("counter flush of VM %s skipped: %s", vm.id, e.getMessage());
            }
        }
    }

    private void flushCounters(LocalVm vm) {
        VirtualMachine machine = vm.machine;
        if (machine == null || machine.state() == VirtualMachine.State.STOPPED
                || machine.state() == VirtualMachine.State.CRASHED) {
            return;
        }
        Map<Integer, ProbeRecord> records = new LinkedHashMap<>();
        machine.pluggedVcpus().forEach(identity -> records.put(identity.cpuIndex(), machine.probeRecord(identity.cpuIndex())));
        boots.recordCounters(vm.bootId, node.name(), records);
    }
}
