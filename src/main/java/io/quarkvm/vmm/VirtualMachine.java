package io.quarkvm.vmm;

import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.kvm.CpuidEntry;
import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.kvm.HypervisorVm;
import io.quarkvm.kvm.KvmUserspaceMemoryRegion;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

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
    /** The unit of {@link #collectDirtyPages} and {@link #zeroPage}: an x86 4 KiB page. */
    public static final int PAGE_SIZE = GuestLayout.PAGE_SIZE;
    /** How long start and hot-plug wait for a vCPU thread to create and set up its vCPU. */
    private static final long SETUP_TIMEOUT_SECONDS = 30;

    private final String name;
    private final VmSpec spec;
    private final VmListener listener;
    private final HypervisorVm vmFd;
    private final GuestMemory memory;
    private final List<CpuidEntry> supportedCpuid;
    private final int maxVps;
    /** The table the vCPU threads serve HV_X64_MSR_VP_INDEX from, by cpu_index. */
    private final Map<Integer, Integer> vpIndexTable = new ConcurrentHashMap<>();
    private final CountDownLatch bootVcpusMayRun = new CountDownLatch(1);
    private final AtomicReference<String> crashReason = new AtomicReference<>();
    private final CountDownLatch released = new CountDownLatch(1);
    private final AtomicBoolean stopperStarted = new AtomicBoolean();

    /** Guarded by this: every vCPU created, parked ones included, by APIC ID. */
    private final Map<Integer, VcpuRunner> vcpus = new LinkedHashMap<>();
    /** Guarded by this: vCPUs created in KVM so far (the next one's vcpu_idx), failed set-ups included. */
    private int vcpusCreated;
    private volatile State state = State.RUNNING;
    /** Its memory and vCPU states come from another VM ({@link #prepareIncoming}), not from its program. */
    private final boolean incoming;
    /** Whether the vCPUs have been let into the guest once: from then on memory and vCPU state are the guest's. */
    private volatile boolean guestStarted;
    /** An incoming VM's vCPUs have their states ({@link #completeIncoming}): it may run. */
    private volatile boolean vcpuStatesArrived;
    /** Guarded by this. */
    private boolean resourcesReleased;

    private VirtualMachine(VmSpec spec, VmListener listener, HypervisorVm vmFd, GuestMemory memory,
                           List<CpuidEntry> supportedCpuid, boolean incoming) {
        this.name = "vm" + VM_NUMBERS.incrementAndGet();
        this.incoming = incoming;
        this.guestStarted = !incoming; // a started VM's vCPUs enter the guest as soon as all are set up
        this.spec = spec;
        this.listener = listener;
        this.vmFd = vmFd;
        this.memory = memory;
        this.supportedCpuid = supportedCpuid;
        this.maxVps = spec.maxVps();
    }

    /**
     * Creates the VM and its boot vCPUs, checks every vCPU's identity, and starts them. The VP index reaches the
     * guest the way {@link VmSpec#vpIndexProvider()} says: {@code USERSPACE_MSR} answered by the vCPU threads,
     * {@code KERNEL_SETTABLE} set with KVM_SET_MSRS, {@code KERNEL_IMPLICIT} by creating the vCPUs in VP index
     * order (with parked vCPUs for slots not plugged now); the kernel's value is read back before the first run.
     *
     * @param hypervisor the node's hypervisor, from {@link io.quarkvm.kvm.Hypervisors#open}
     * @throws IdentityMismatchException        a vCPU would have run with an identity other than the spec's
     * @throws IllegalArgumentException         the spec cannot be honoured by its provider (KERNEL_IMPLICIT: a VP
     *                                          index no vCPU can be created for)
     * @throws IllegalStateException            this node's KVM lacks what the spec needs
     * @throws io.quarkvm.kvm.KvmException      KVM refused a call
     */
    public static VirtualMachine start(Hypervisor hypervisor, VmSpec spec, VmListener listener) {
        List<KernelVpIndex.Planned> plan = vcpuPlan(hypervisor, spec);
        VirtualMachine vm = create(hypervisor, spec, listener,
                vmFd -> GuestMemory.create(vmFd, spec.memoryBytes(), spec.program()), false);
        vm.boot(plan);
        return vm;
    }

    /**
     * Creates a fresh VM on {@code hypervisor} that continues where the VM of {@code snapshot} was: an incoming VM
     * ({@link #prepareIncoming}) given the snapshot's memory and vCPU states, then resumed.
     *
     * @param spec the VM's persisted spec: every snapshot vCPU's identity must be one of its {@link VmSpec#knownVcpus}
     * @throws IdentityMismatchException a snapshot vCPU's identity is not the persisted one, or a vCPU would have run
     *                                   with another
     * @throws IllegalArgumentException  the snapshot's memory size is not the spec's
     * @throws IllegalStateException     a vCPU refused its saved state (the new VM is stopped), or as {@link #start}
     */
    public static VirtualMachine restore(Hypervisor hypervisor, VmSpec spec, VmSnapshot snapshot,
                                         VmListener listener) {
        if (snapshot.memoryBytes() != spec.memoryBytes()) {
            throw new IllegalArgumentException("the snapshot has " + snapshot.memoryBytes() + " bytes of memory, the "
                    + "VM " + spec.memoryBytes());
        }
        VmSpec resumed = spec.withPlugged(snapshot.vcpus().stream().map(VcpuState::identity).toList());
        VirtualMachine vm = prepareIncoming(hypervisor, resumed, listener);
        try {
            for (VmSnapshot.MemoryRange range : snapshot.memory()) {
                vm.writeMemory(range.guestPhysical(), range.bytes(), 0, range.bytes().length);
            }
            vm.completeIncoming(snapshot.vcpus());
        } catch (RuntimeException e) {
            vm.stop();
            throw e;
        }
        vm.resume();
        return vm;
    }

    /**
     * Creates the VM that another VM's state will arrive in: its memory all zero, the vCPUs of {@code spec.vcpus()}
     * created as {@link #start} creates them (the same provider rules, and the same identity check before any could
     * run), and the VM {@link State#PAUSED}, none of its vCPUs ever run. The caller fills the memory
     * ({@link #writeMemory}, {@link #zeroPage}), gives the vCPUs their states ({@link #completeIncoming}), then
     * {@link #resume}s it or {@link #stop}s it.
     *
     * @param spec the persisted spec, with the plugged vCPUs of the VM that comes in
     * @throws IdentityMismatchException a vCPU would run with an identity other than the spec's
     * @throws IllegalStateException     as {@link #start}
     */
    public static VirtualMachine prepareIncoming(Hypervisor hypervisor, VmSpec spec, VmListener listener) {
        List<KernelVpIndex.Planned> plan = vcpuPlan(hypervisor, spec);
        VirtualMachine vm = create(hypervisor, spec, listener,
                vmFd -> GuestMemory.zeroed(vmFd, spec.memoryBytes()), true);
        vm.state = State.PAUSED; // the boot vCPUs wait, checked but not run, for their state
        vm.boot(plan);
        return vm;
    }

    /**
     * Incoming VM only: copies {@code length} bytes of {@code bytes} from {@code offset} into guest memory at
     * {@code guestPhysical}.
     *
     * @throws IllegalStateException    the guest has run on this VM: its memory is its own
     * @throws IllegalArgumentException the range lies outside guest memory
     */
    public synchronized void writeMemory(long guestPhysical, byte[] bytes, int offset, int length) {
        requireNeverStarted("write the memory of");
        memory.write(guestPhysical, bytes, offset, length);
    }

    /** Incoming VM only: page {@code pageNumber} (of {@link #PAGE_SIZE} bytes) becomes all zero. */
    public synchronized void zeroPage(long pageNumber) {
        requireNeverStarted("zero a page of");
        if (pageNumber < 0 || pageNumber >= memory.size() / PAGE_SIZE) {
            throw new IllegalArgumentException("page " + pageNumber + " lies outside the VM's " + memory.size()
                    + " bytes");
        }
        memory.zero(pageNumber * PAGE_SIZE, PAGE_SIZE);
    }

    /**
     * Incoming VM only: gives each plugged vCPU its state, on its own thread; the VM stays paused. On failure the
     * VM is as it was apart from vCPUs that took theirs: the caller stops it.
     *
     * @param states one per plugged vCPU, whatever the order
     * @throws IdentityMismatchException the states' identities are not exactly those of the plugged vCPUs
     * @throws IllegalStateException     the guest has run on this VM, or a vCPU refused its state
     */
    public void completeIncoming(List<VcpuState> states) {
        requireNeverStarted("complete the incoming state of");
        List<VcpuIdentity> plugged = pluggedVcpus();
        List<VcpuIdentity> carried = states.stream().map(VcpuState::identity).toList();
        if (carried.size() != plugged.size() || !Set.copyOf(carried).equals(Set.copyOf(plugged))) {
            throw new IdentityMismatchException("the vCPU states are for " + carried + ", but the plugged vCPUs are "
                    + plugged);
        }
        List<CompletableFuture<Void>> applied = states.stream()
                .map(state -> onVcpuThread(state.identity().apicId(), vcpu -> {
                    state.applyTo(vcpu);
                    return (Void) null;
                })).toList();
        applied.forEach(outcome -> VmSnapshot.await(outcome, "apply a vCPU's state"));
        vcpuStatesArrived = true;
    }

    private void requireNeverStarted(String action) {
        requireAlive(action);
        if (guestStarted) {
            throw new IllegalStateException("cannot " + action + " " + name + ": the guest has run on it");
        }
    }

    /** Which vCPUs to create, in which order, plugged or parked, after checking this node can serve the spec. */
    private static List<KernelVpIndex.Planned> vcpuPlan(Hypervisor hypervisor, VmSpec spec) {
        requireProviderSupported(hypervisor, spec);
        List<KernelVpIndex.Planned> plan = spec.vcpus().stream()
                .map(identity -> new KernelVpIndex.Planned(identity, true, false)).toList();
        if (spec.hypervVpIndex() && spec.vpIndexProvider() == VpIndexProvider.KERNEL_IMPLICIT) {
            plan = KernelVpIndex.creationOrder(spec);
        }
        return plan;
    }

    private static void requireProviderSupported(Hypervisor hypervisor, VmSpec spec) {
        if (spec.hypervVpIndex()) {
            switch (spec.vpIndexProvider()) {
                case USERSPACE_MSR -> UserspaceVpIndex.requireSupported(hypervisor);
                case KERNEL_SETTABLE, KERNEL_IMPLICIT ->
                        KernelVpIndex.requireSupported(hypervisor, spec.vpIndexProvider());
                case UNSUPPORTED -> throw new IllegalStateException("the VM wants hyperv.vpindex but this node "
                        + "has no VP index provider");
            }
        }
    }

    /** The VM with its memory, no vCPU yet. */
    private static VirtualMachine create(Hypervisor hypervisor, VmSpec spec, VmListener listener,
                                         Function<HypervisorVm, GuestMemory> memoryOf, boolean incoming) {
        List<CpuidEntry> supportedCpuid = hypervisor.supportedCpuid();
        HypervisorVm vmFd = hypervisor.createVm();
        GuestMemory memory;
        try {
            if (spec.hypervVpIndex() && spec.vpIndexProvider() == VpIndexProvider.USERSPACE_MSR) {
                UserspaceVpIndex.install(vmFd);
            }
            memory = memoryOf.apply(vmFd);
        } catch (RuntimeException e) {
            vmFd.close();
            throw e;
        }
        return new VirtualMachine(spec, listener, vmFd, memory, supportedCpuid, incoming);
    }

    /** Creates the vCPUs one after the other in the plan's order (the kernel numbers them so), then awaits them. */
    private synchronized void boot(List<KernelVpIndex.Planned> plan) {
        List<VcpuRunner> booting = new ArrayList<>();
        try {
            for (KernelVpIndex.Planned planned : plan) {
                booting.add(launch(planned.identity(), !planned.plugged(), !planned.derived()));
            }
            for (VcpuRunner runner : booting) {
                awaitReady(runner);
            }
            if (!incoming) {
                memory.writeLong(GuestLayout.BOOT_PARAMETERS + GuestLayout.TSC_KHZ, bootVcpuTscKhz(booting));
            }
        } catch (RuntimeException e) {
            state = State.STOPPED;
            // Every vCPU learns it must stop before the go signal, so none that passed its checks enters the guest.
            vcpus.values().forEach(runner -> runner.request(VcpuRunner.Request.STOP));
            bootVcpusMayRun.countDown();
            releaseEverything();
            throw e;
        }
        bootVcpusMayRun.countDown();
    }

    /**
     * The rate of the TSC the guest's boot vCPU (cpu_index 0) reads, as its hypervisor gave it at set-up, for the
     * boot parameters; 0 when it gives none.
     */
    private static long bootVcpuTscKhz(List<VcpuRunner> booting) {
        return booting.stream().filter(runner -> runner.identityComplete() && runner.identity().cpuIndex() == 0)
                .mapToLong(runner -> runner.tscKhz().orElse(0)).findFirst().orElse(0);
    }

    /**
     * Starts a vCPU thread and waits until it has created its vCPU in KVM (so the next one is created after it).
     * Holds this.
     *
     * @param parked           created and set up but not run until hot-plugged
     * @param identityComplete false for a parked vCPU derived for a never-plugged slot (no cpu_index yet): it is
     *                         set up only when plugged
     */
    private VcpuRunner launch(VcpuIdentity identity, boolean parked, boolean identityComplete) {
        if (identityComplete) {
            vpIndexTable.put(identity.cpuIndex(), identity.vpIndex());
        }
        VcpuRunner runner = new VcpuRunner(this, identity, bootVcpusMayRun, parked, identityComplete);
        if (!parked && state == State.PAUSED) {
            runner.request(VcpuRunner.Request.PAUSE);
        }
        vcpus.put(identity.apicId(), runner);
        runner.start();
        try {
            await(runner.created(), runner, "created");
        } catch (RuntimeException e) {
            stopAndJoin(runner); // after a time-out its thread may still be going: it must never run unseen
            vcpus.remove(identity.apicId());
            if (identityComplete) {
                vpIndexTable.remove(identity.cpuIndex());
            }
            throw e;
        }
        vcpusCreated++;
        return runner;
    }

    private static void stopAndJoin(VcpuRunner runner) {
        runner.request(VcpuRunner.Request.STOP);
        try {
            runner.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void awaitReady(VcpuRunner runner) {
        await(runner.ready(), runner, "set up");
    }

    private static void await(java.util.concurrent.Future<Void> step, VcpuRunner runner, String what) {
        try {
            step.get(SETUP_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException cause ? cause : new IllegalStateException(e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("vCPU " + runner.identity() + " not " + what + " within "
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

    /**
     * How long a halted vCPU of this VM waits before it re-enters the guest: {@link VcpuRunner#HALT_TICK_MILLIS}, or
     * longer for a VM whose slots, all ticking, would wake more than {@link VcpuRunner#VM_WAKEUPS_PER_SECOND} times
     * a second.
     */
    long haltTickMillis() {
        long slots = spec.topology().maxVcpus();
        return Math.max(VcpuRunner.HALT_TICK_MILLIS, slots * 1000 / VcpuRunner.VM_WAKEUPS_PER_SECOND);
    }

    /** CRASHED from the moment a vCPU crashed, whatever pause, resume or stop wrote after it. */
    public State state() {
        return crashReason.get() != null ? State.CRASHED : state;
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
        if (incoming && !vcpuStatesArrived) {
            throw new IllegalStateException("cannot resume " + name + ": its vCPUs have not received their states");
        }
        guestStarted = true;
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

    /**
     * Stops the VM as {@link #stop()} does, but on a thread of its own, and waits for it no longer than
     * {@code atMost}: a vCPU that takes long to leave the guest holds up only that thread.
     *
     * @return whether the VM has stopped and released its resources
     */
    public boolean stop(Duration atMost) throws InterruptedException {
        requireNotOnVcpuThread("stop");
        stopInBackground();
        return released.await(atMost.toNanos(), TimeUnit.NANOSECONDS);
    }

    private void stopInBackground() {
        if (stopperStarted.compareAndSet(false, true)) {
            Thread stopper = new Thread(this::stop, "stop-" + name);
            stopper.setDaemon(true);
            stopper.start();
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
     *
     * <p>Under {@code KERNEL_IMPLICIT} the kernel gives the n-th vCPU created VP index n: a slot whose vCPU was
     * created parked (at boot, or as a filler) is just unparked (set up first if it had no cpu_index yet); a new
     * one with a VP index above the next creation number gets parked fillers created before it; one below it is
     * refused, as nothing can give it that VP index any more.
     */
    public synchronized void hotplug(VcpuIdentity identity) {
        requireAlive("hot-plug");
        VmSpec.requireConsistent(spec.topology(), identity);
        VcpuRunner existing = vcpus.get(identity.apicId());
        if (existing != null) {
            unpark(existing, identity);
            return;
        }
        for (VcpuRunner runner : vcpus.values()) {
            VcpuIdentity other = runner.identity();
            if (other.cpuIndex() == identity.cpuIndex() || other.vpIndex() == identity.vpIndex()) {
                throw new IllegalStateException(identity + " collides with " + other);
            }
        }
        if (kernelImplicit()) {
            createFillersBelow(identity);
        }
        VcpuRunner runner = launch(identity, false, true);
        try {
            awaitReady(runner);
        } catch (RuntimeException e) {
            vcpus.remove(identity.apicId()); // its thread has ended; the KVM vCPU stays, unused, until the VM goes
            vpIndexTable.remove(identity.cpuIndex());
            throw e;
        }
    }

    private boolean kernelImplicit() {
        return spec.hypervVpIndex() && spec.vpIndexProvider() == VpIndexProvider.KERNEL_IMPLICIT;
    }

    /** Holds this. A parked vCPU with this APIC ID runs again; a derived one takes its identity first. */
    private void unpark(VcpuRunner existing, VcpuIdentity identity) {
        VcpuIdentity had = existing.identity();
        if (!existing.isParked()) {
            throw new IllegalStateException("APIC ID " + identity.apicId() + " is already plugged as " + had);
        }
        if (existing.identityComplete()) {
            if (!had.equals(identity)) {
                throw new IllegalStateException("APIC ID " + identity.apicId() + " is parked as " + had
                        + ", not " + identity);
            }
        } else {
            if (had.vpIndex() != identity.vpIndex()) {
                throw new IllegalStateException("APIC ID " + identity.apicId() + " was created parked with VP index "
                        + had.vpIndex() + " (the kernel's creation order), which cannot change to "
                        + identity.vpIndex());
            }
            for (VcpuRunner runner : vcpus.values()) {
                if (runner.identityComplete() && runner.identity().cpuIndex() == identity.cpuIndex()) {
                    throw new IllegalStateException(identity + " collides with " + runner.identity());
                }
            }
            vpIndexTable.put(identity.cpuIndex(), identity.vpIndex());
            try {
                await(existing.adopt(identity), existing, "set up");
            } catch (RuntimeException e) {
                vpIndexTable.remove(identity.cpuIndex());
                throw e;
            }
        }
        existing.request(state == State.PAUSED ? VcpuRunner.Request.PAUSE : VcpuRunner.Request.RUN);
    }

    /** KERNEL_IMPLICIT, holds this: creates parked vCPUs for the VP indexes between the next one and the wanted. */
    private void createFillersBelow(VcpuIdentity identity) {
        if (identity.vpIndex() < vcpusCreated) {
            throw new IllegalStateException("cannot hot-plug " + identity + ": this node's kernel gives the n-th vCPU "
                    + "created VP index n, and " + vcpusCreated + " vCPUs exist already, so VP index "
                    + identity.vpIndex() + " is taken by the vCPU created as number " + identity.vpIndex());
        }
        List<VcpuIdentity> present = vcpus.values().stream().map(VcpuRunner::identity).toList();
        List<VcpuIdentity> fillers = new ArrayList<>();
        for (int vpIndex = vcpusCreated; vpIndex < identity.vpIndex(); vpIndex++) {
            VcpuIdentity filler;
            try {
                filler = KernelVpIndex.filler(spec, vpIndex, present);
            } catch (IllegalArgumentException e) {
                throw new IllegalStateException("cannot hot-plug " + identity + ": " + e.getMessage(), e);
            }
            if (filler.apicId() == identity.apicId()) {
                throw new IllegalStateException("cannot hot-plug " + identity + ": its slot has VP index "
                        + filler.vpIndex() + " in this VM's identities");
            }
            fillers.add(filler);
        }
        for (VcpuIdentity filler : fillers) {
            boolean derived = filler.cpuIndex() == KernelVpIndex.NO_CPU_INDEX;
            awaitReady(launch(filler, true, !derived));
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

    /** vCPUs that exist in KVM, parked ones included (KVM cannot destroy a vCPU). */
    public synchronized int vcpusCreated() {
        return vcpusCreated;
    }

    /** The identities of the vCPUs plugged now (not parked), in cpu_index order. */
    public synchronized List<VcpuIdentity> pluggedVcpus() {
        return unparked().stream().map(VcpuRunner::identity)
                .sorted(Comparator.comparingInt(VcpuIdentity::cpuIndex)).toList();
    }

    /** The guest's RAM in bytes. */
    public long memoryBytes() {
        return memory.size();
    }

    /**
     * Copies {@code into.length} bytes of guest memory from {@code guestPhysical}, whatever the guest is doing (a
     * running guest may be changing them meanwhile: {@link #collectDirtyPages} then reports the page again).
     *
     * @throws IllegalArgumentException the range lies outside guest memory
     * @throws IllegalStateException    the VM has stopped
     */
    public void readMemory(long guestPhysical, byte[] into) {
        memory.read(guestPhysical, into);
    }

    /**
     * The pages (numbered as by {@link #collectDirtyPages}) that may hold anything but zero: those the host has
     * populated. Every other page is zero now; a page the guest writes after the call may be missing, which the
     * dirty log, started before, reports.
     *
     * @throws IllegalStateException the VM has stopped
     */
    public BitSet populatedPages() {
        return memory.populatedPages();
    }

    /**
     * Starts logging which pages the guest writes, as a migration needs: memory slot 0 is set again with
     * KVM_MEM_LOG_DIRTY_PAGES (a flags-only change, allowed while the vCPUs run). Every page counts as clean from
     * now on; nothing happens if the log runs already.
     */
    public synchronized void startDirtyLogging() {
        requireAlive("log the dirty pages of");
        vmFd.setUserMemoryRegion(memory.slot(KvmUserspaceMemoryRegion.LOG_DIRTY_PAGES));
    }

    /**
     * Stops the log {@link #startDirtyLogging} started (the migration has ended): the guest writes at full speed
     * again. Nothing to do once the VM has stopped or crashed.
     */
    public synchronized void stopDirtyLogging() {
        requireNotOnVcpuThread("stop the dirty log of");
        if (state() == State.RUNNING || state() == State.PAUSED) {
            vmFd.setUserMemoryRegion(memory.slot(0));
        }
    }

    /**
     * The pages (numbered from guest-physical 0, {@link #PAGE_SIZE} bytes each) written since the previous call, or
     * since {@link #startDirtyLogging} for the first; KVM_GET_DIRTY_LOG.
     *
     * @throws IllegalArgumentException the log is not running
     */
    public synchronized BitSet collectDirtyPages() {
        requireAlive("collect the dirty pages of");
        return vmFd.getDirtyLog(0);
    }

    /**
     * Pauses the VM (if it runs) and reads every plugged vCPU's state, each on its own thread, in cpu_index order. The
     * reads are posted together with the pause, so a vCPU takes its read as it leaves the guest rather than being
     * woken a second time for it: where a migration's downtime begins, each wake-up counts.
     *
     * @throws IllegalStateException a vCPU did not answer in time
     */
    public List<VcpuState> pauseAndCaptureVcpuStates() {
        List<CompletableFuture<VcpuState>> captures;
        synchronized (this) {
            requireAlive("pause and capture the vCPU states of");
            Collection<VcpuRunner> running = state == State.PAUSED ? List.of() : unparked();
            running.forEach(runner -> runner.request(VcpuRunner.Request.PAUSE));
            captures = pluggedVcpus().stream()
                    .map(identity -> onVcpuThread(identity.apicId(), vcpu -> VcpuState.capture(identity, vcpu)))
                    .toList();
            awaitOutOfGuest(running);
            state = State.PAUSED;
        }
        return captures.stream().map(capture -> VmSnapshot.await(capture, "capture a vCPU's state")).toList();
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

    /** The counters of the dirty-memory guest ({@link GuestProgram#dirtyMemory}), read from guest memory. */
    public DirtyingCounters dirtyingCounters() {
        return new DirtyingCounters(memory.readLong(GuestLayout.DIRTYING + GuestLayout.PAGES_WRITTEN),
                memory.readLong(GuestLayout.DIRTYING + GuestLayout.LAST_TSC),
                memory.readLong(GuestLayout.DIRTYING + GuestLayout.WORKING_SET_PAGES),
                memory.readLong(GuestLayout.DIRTYING + GuestLayout.TICKS_PER_PAGE));
    }

    /**
     * Runs {@code task} on the thread of the vCPU with this APIC ID, between two runs of the guest: a vCPU in the
     * guest is kicked out for it and goes back in afterwards, a paused or parked one runs it where it waits. The
     * outcome fails if the task throws (the vCPU carries on), and at once if the VM has stopped or crashed.
     */
    public <T> CompletableFuture<T> onVcpuThread(int apicId, VcpuTask<T> task) {
        State now = state();
        if (now == State.STOPPED || now == State.CRASHED) {
            return CompletableFuture.failedFuture(new IllegalStateException(name + " is " + now));
        }
        VcpuRunner runner;
        synchronized (this) {
            runner = vcpus.get(apicId);
        }
        if (runner == null) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("no vCPU with APIC ID " + apicId));
        }
        return runner.post(task);
    }

    /** What the vCPU thread with this APIC ID has handled. */
    public synchronized VcpuCounters counters(int apicId) {
        VcpuRunner runner = vcpus.get(apicId);
        if (runner == null) {
            throw new IllegalArgumentException("no vCPU with APIC ID " + apicId);
        }
        return runner.counters();
    }

    // ---- for the vCPU threads ------------------------------------------------------------------------------

    HypervisorVm vmFd() {
        return vmFd;
    }

    GuestMemory memory() {
        return memory;
    }

    boolean hypervVpIndex() {
        return spec.hypervVpIndex();
    }

    /** How the guest's RDMSR of the VP index is answered (meaningful only with {@link #hypervVpIndex()}). */
    VpIndexProvider vpIndexProvider() {
        return spec.vpIndexProvider();
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
        stopInBackground();
    }

    // ---- internals -----------------------------------------------------------------------------------------

    private void requireAlive(String action) {
        requireNotOnVcpuThread(action);
        State now = state();
        if (now == State.STOPPED || now == State.CRASHED) {
            throw new IllegalStateException("cannot " + action + " " + name + ": it is " + now);
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
