package io.quarkvm.vmm;

import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.kvm.CpuidEntry;
import io.quarkvm.kvm.Kvm;
import io.quarkvm.kvm.VmFd;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A running VM: its KVM VM, guest memory, and one platform thread per vCPU ({@link VcpuRunner}).
 *
 * <p>{@link #start} returns once every boot vCPU exists, is set up and has had its identity checked against the
 * spec, and has been let into the guest. {@link #pause}, {@link #resume}, {@link #park} and {@link #stop} take
 * effect within milliseconds whatever the guest does (each kicks the vCPU threads out of KVM_RUN). A guest crash
 * (triple fault, failed entry, internal error) stops only this VM. When the VM has stopped, every descriptor and
 * mapping it had is released. Lifecycle methods are thread-safe and idempotent.
 */
public final class VirtualMachine implements AutoCloseable {

    public enum State { RUNNING, PAUSED, STOPPED, CRASHED }

    private static final System.Logger LOG = System.getLogger(VirtualMachine.class.getName());
    private static final AtomicInteger VM_NUMBERS = new AtomicInteger();
    /** How long start and hot-plug wait for a vCPU thread to create and set up its vCPU. */
    private static final long SETUP_TIMEOUT_SECONDS = 30;

    private final String name;
    private final VmSpec spec;
    private final VmListener listener;
    private final VmFd vmFd;
    private final GuestMemory memory;
    private final List<CpuidEntry> supportedCpuid;
    private final int maxVps;
    /** The table the vCPU threads serve HV_X64_MSR_VP_INDEX from, by cpu_index. */
    private final Map<Integer, Integer> vpIndexTable = new ConcurrentHashMap<>();
    private final CountDownLatch bootVcpusMayRun = new CountDownLatch(1);
    private final AtomicReference<String> crashReason = new AtomicReference<>();
    private final CountDownLatch released = new CountDownLatch(1);

    /** Guarded by this: every vCPU created, parked ones included, by APIC ID. */
    private final Map<Integer, VcpuRunner> vcpus = new LinkedHashMap<>();
    private volatile State state = State.RUNNING;
    /** Guarded by this. */
    private boolean resourcesReleased;

    private VirtualMachine(VmSpec spec, VmListener listener, VmFd vmFd, GuestMemory memory,
                           List<CpuidEntry> supportedCpuid) {
        this.name = "vm" + VM_NUMBERS.incrementAndGet();
        this.spec = spec;
        this.listener = listener;
        this.vmFd = vmFd;
        this.memory = memory;
        this.supportedCpuid = supportedCpuid;
        this.maxVps = spec.maxVps();
    }

    /**
     * Creates the VM and its boot vCPUs, checks every vCPU's identity, and starts them.
     *
     * @throws IdentityMismatchException        a vCPU would have run with an identity other than the spec's
     * @throws UnsupportedOperationException    the spec asks for a VP index provider not implemented yet
     * @throws IllegalStateException            this node's KVM lacks what the spec needs
     * @throws io.quarkvm.kvm.KvmException      KVM refused a call
     */
    public static VirtualMachine start(Kvm kvm, VmSpec spec, VmListener listener) {
        if (spec.hypervVpIndex()) {
            requireImplemented(spec.vpIndexProvider());
            UserspaceVpIndex.requireSupported(kvm);
        }
        List<CpuidEntry> supportedCpuid = kvm.supportedCpuid();
        VmFd vmFd = kvm.createVm();
        GuestMemory memory;
        try {
            if (spec.hypervVpIndex()) {
                UserspaceVpIndex.install(vmFd);
            }
            memory = GuestMemory.create(vmFd, (long) spec.memoryMiB() << 20, spec.program());
        } catch (RuntimeException e) {
            vmFd.close();
            throw e;
        }
        VirtualMachine vm = new VirtualMachine(spec, listener, vmFd, memory, supportedCpuid);
        vm.boot();
        return vm;
    }

    private static void requireImplemented(VpIndexProvider provider) {
        if (provider != VpIndexProvider.USERSPACE_MSR) {
            throw new UnsupportedOperationException("VP index provider " + provider
                    + " is not implemented yet; this VMM serves the VP index only as " + VpIndexProvider.USERSPACE_MSR);
        }
    }

    private synchronized void boot() {
        List<VcpuRunner> booting = new ArrayList<>();
        for (VcpuIdentity identity : spec.vcpus()) {
            vpIndexTable.put(identity.cpuIndex(), identity.vpIndex());
            VcpuRunner runner = new VcpuRunner(this, identity, bootVcpusMayRun);
            vcpus.put(identity.apicId(), runner);
            booting.add(runner);
            runner.start();
        }
        try {
            for (VcpuRunner runner : booting) {
                awaitReady(runner);
            }
        } catch (RuntimeException e) {
            state = State.STOPPED;
            bootVcpusMayRun.countDown();
            releaseEverything();
            throw e;
        }
        bootVcpusMayRun.countDown();
    }

    private static void awaitReady(VcpuRunner runner) {
        try {
            runner.ready().get(SETUP_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException cause ? cause : new IllegalStateException(e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("vCPU " + runner.identity() + " not set up within "
                    + SETUP_TIMEOUT_SECONDS + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while starting vCPU " + runner.identity(), e);
        }
    }

    public String name() {
        return name;
    }

    public VmSpec spec() {
        return spec;
    }

    public State state() {
        return state;
    }

    /** Why the guest crashed, once it has. */
    public Optional<String> crashReason() {
        return Optional.ofNullable(crashReason.get());
    }

    /** Stops the guest from running on every vCPU; returns when each is outside KVM_RUN. */
    public synchronized void pause() {
        requireAlive("pause");
        if (state == State.PAUSED) {
            return;
        }
        Collection<VcpuRunner> running = unparked();
        running.forEach(runner -> runner.request(VcpuRunner.Request.PAUSE));
        awaitOutOfGuest(running);
        state = State.PAUSED;
    }

    /** Lets the paused vCPUs run again. */
    public synchronized void resume() {
        requireAlive("resume");
        if (state == State.RUNNING) {
            return;
        }
        unparked().forEach(runner -> runner.request(VcpuRunner.Request.RUN));
        state = State.RUNNING;
    }

    /**
     * Stops every vCPU and releases every native resource of the VM; returns when done. A crashed VM stops by
     * itself; this then just waits for it.
     */
    public void stop() {
        requireNotOnVcpuThread("stop");
        synchronized (this) {
            if (state != State.CRASHED) {
                state = State.STOPPED;
            }
            releaseEverything();
        }
    }

    @Override
    public void close() {
        stop();
    }

    /** Waits until the VM has stopped and released its resources (after a crash, for instance). */
    public boolean awaitStopped(long timeout, TimeUnit unit) throws InterruptedException {
        return released.await(timeout, unit);
    }

    /**
     * Plugs a vCPU into the running VM: a new one (created, set up, identity-checked, then run) or a parked one
     * with the same identity, which carries on where it was parked. KVM cannot destroy a vCPU, so a failed
     * hot-plug leaves its APIC ID unusable in this VM.
     */
    public synchronized void hotplug(VcpuIdentity identity) {
        requireAlive("hot-plug");
        VmSpec.requireConsistent(spec.topology(), identity);
        VcpuRunner existing = vcpus.get(identity.apicId());
        if (existing != null) {
            if (!existing.isParked() || !existing.identity().equals(identity)) {
                throw new IllegalStateException("APIC ID " + identity.apicId() + " is already plugged as "
                        + existing.identity());
            }
            existing.request(state == State.PAUSED ? VcpuRunner.Request.PAUSE : VcpuRunner.Request.RUN);
            return;
        }
        for (VcpuRunner runner : vcpus.values()) {
            VcpuIdentity other = runner.identity();
            if (other.cpuIndex() == identity.cpuIndex() || other.vpIndex() == identity.vpIndex()) {
                throw new IllegalStateException(identity + " collides with " + other);
            }
        }
        vpIndexTable.put(identity.cpuIndex(), identity.vpIndex());
        VcpuRunner runner = new VcpuRunner(this, identity, bootVcpusMayRun);
        if (state == State.PAUSED) {
            runner.request(VcpuRunner.Request.PAUSE);
        }
        vcpus.put(identity.apicId(), runner);
        runner.start();
        try {
            awaitReady(runner);
        } catch (RuntimeException e) {
            vcpus.remove(identity.apicId()); // its thread has ended; the KVM vCPU stays, unused, until the VM goes
            vpIndexTable.remove(identity.cpuIndex());
            throw e;
        }
    }

    /**
     * Takes the vCPU with this APIC ID out of the guest for good (until hot-plugged again): its thread stops
     * running it but keeps it, since KVM cannot destroy a vCPU. Returns when it is outside KVM_RUN.
     */
    public synchronized void park(int apicId) {
        requireAlive("park");
        VcpuRunner runner = vcpus.get(apicId);
        if (runner == null) {
            throw new IllegalArgumentException("no vCPU with APIC ID " + apicId);
        }
        runner.request(VcpuRunner.Request.PARK);
        awaitOutOfGuest(List.of(runner));
    }

    /** The identities of the vCPUs plugged now (not parked), in cpu_index order. */
    public synchronized List<VcpuIdentity> pluggedVcpus() {
        return unparked().stream().map(VcpuRunner::identity)
                .sorted(Comparator.comparingInt(VcpuIdentity::cpuIndex)).toList();
    }

    /** The probe's heartbeat on the vCPU with this cpu_index, read from guest memory. */
    public long heartbeats(int cpuIndex) {
        return memory.readLong(GuestLayout.recordOf(cpuIndex) + GuestLayout.HEARTBEAT);
    }

    /** The probe's whole record for the vCPU with this cpu_index, read from guest memory. */
    public ProbeRecord probeRecord(int cpuIndex) {
        long record = GuestLayout.recordOf(cpuIndex);
        long heartbeat = memory.readLong(record + GuestLayout.HEARTBEAT);
        boolean hypervFound = memory.readInt(record + GuestLayout.HYPERV_FOUND) != 0;
        WrmsrOutcome wrmsr = WrmsrOutcome.fromRecord(memory.readInt(record + GuestLayout.WRMSR_OUTCOME));
        GuestIdentity first = new GuestIdentity(cpuIndex, memory.readInt(record + GuestLayout.FIRST_APIC_ID_LEAF1),
                memory.readInt(record + GuestLayout.FIRST_X2APIC_ID_LEAFB),
                memory.readLong(record + GuestLayout.FIRST_VP_INDEX), hypervFound, wrmsr);
        Optional<GuestIdentity> latest = heartbeat < GuestProbe.RECHECK_INTERVAL ? Optional.empty()
                : Optional.of(new GuestIdentity(cpuIndex, memory.readInt(record + GuestLayout.LAST_APIC_ID_LEAF1),
                        memory.readInt(record + GuestLayout.LAST_X2APIC_ID_LEAFB),
                        memory.readLong(record + GuestLayout.LAST_VP_INDEX), hypervFound, wrmsr));
        return new ProbeRecord(heartbeat, memory.readLong(record + GuestLayout.VIOLATIONS),
                memory.readLong(record + GuestLayout.GP_FAULTS), first, latest);
    }

    /** What the vCPU thread with this APIC ID has handled. */
    public synchronized VcpuCounters counters(int apicId) {
        VcpuRunner runner = vcpus.get(apicId);
        if (runner == null) {
            throw new IllegalArgumentException("no vCPU with APIC ID " + apicId);
        }
        return runner.counters();
    }

    /** Bytes of guest RAM (mapped lazily: untouched pages cost nothing). */
    public long memoryBytes() {
        return memory.size();
    }

    // ---- for the vCPU threads ------------------------------------------------------------------------------

    VmFd vmFd() {
        return vmFd;
    }

    boolean hypervVpIndex() {
        return spec.hypervVpIndex();
    }

    List<CpuidEntry> cpuidFor(VcpuIdentity identity) {
        return GuestCpuid.forVcpu(supportedCpuid, spec.topology(), identity.slot(), identity.apicId(),
                spec.hypervVpIndex(), maxVps);
    }

    /**
     * Replaces the VP index served to one vCPU from now on: what restoring another node's table does. A probe
     * that already read the old value counts it as a violation at its next re-check.
     */
    void serveVpIndex(int cpuIndex, int vpIndex) {
        vpIndexTable.put(cpuIndex, vpIndex);
    }

    /** The VP index the vCPU threads serve to this vCPU, from the persisted table (-1 if it has none). */
    long vpIndexServedTo(VcpuIdentity identity) {
        return vpIndexTable.getOrDefault(identity.cpuIndex(), -1);
    }

    void identityReported(VcpuIdentity identity) {
        GuestIdentity observed = probeRecord(identity.cpuIndex()).first();
        notifyListener(() -> listener.identityReported(observed));
    }

    void violationReported(VcpuIdentity identity) {
        ProbeRecord record = probeRecord(identity.cpuIndex());
        notifyListener(() -> listener.violationReported(identity.cpuIndex(), record));
    }

    /** A vCPU cannot go on: the VM crashes, and is stopped on a thread of its own (this one is a vCPU's). */
    void vcpuCrashed(VcpuIdentity identity, String reason) {
        String described = "vCPU cpu_index " + identity.cpuIndex() + " (APIC ID " + identity.apicId() + "): " + reason;
        if (!crashReason.compareAndSet(null, described)) {
            return;
        }
        state = State.CRASHED;
        LOG.log(System.Logger.Level.WARNING, "{0} crashed: {1}", name, described);
        notifyListener(() -> listener.crashed(described));
        Thread stopper = new Thread(this::stop, "stop-" + name);
        stopper.setDaemon(true);
        stopper.start();
    }

    // ---- internals -----------------------------------------------------------------------------------------

    private void requireAlive(String action) {
        requireNotOnVcpuThread(action);
        if (state == State.STOPPED || state == State.CRASHED) {
            throw new IllegalStateException("cannot " + action + " " + name + ": it is " + state);
        }
    }

    /** Those calls wait for the vCPU threads; from one of them (a listener callback) they would wait forever. */
    private void requireNotOnVcpuThread(String action) {
        if (VcpuRunner.isVcpuThread(Thread.currentThread())) {
            throw new IllegalStateException("cannot " + action + " " + name + " from a vCPU thread");
        }
    }

    private Collection<VcpuRunner> unparked() {
        return vcpus.values().stream().filter(runner -> !runner.isParked()).toList();
    }

    private static void awaitOutOfGuest(Collection<VcpuRunner> runners) {
        try {
            for (VcpuRunner runner : runners) {
                runner.awaitOutOfGuest();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for vCPUs to leave the guest", e);
        }
    }

    /** Stops every vCPU thread, waits for them, then closes the VM and unmaps its memory; once. Holds this. */
    private void releaseEverything() {
        if (resourcesReleased) {
            return;
        }
        vcpus.values().forEach(runner -> runner.request(VcpuRunner.Request.STOP));
        boolean interrupted = false;
        for (VcpuRunner runner : vcpus.values()) {
            while (true) {
                try {
                    runner.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // the threads must end before their memory goes away
                }
            }
        }
        vmFd.close();
        memory.close();
        resourcesReleased = true;
        released.countDown();
        notifyListener(listener::stopped);
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void notifyListener(Runnable call) {
        try {
            call.run();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "VM listener failed", e);
        }
    }

    @Override
    public String toString() {
        return name + " (" + state + ", " + spec.vcpus().size() + " boot vCPUs)";
    }
}
