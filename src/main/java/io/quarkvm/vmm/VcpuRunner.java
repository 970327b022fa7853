package io.quarkvm.vmm;

import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.kvm.CpuidEntry;
import io.quarkvm.kvm.HypervisorVcpu;
import io.quarkvm.kvm.KvmDtable;
import io.quarkvm.kvm.KvmException;
import io.quarkvm.kvm.KvmRegs;
import io.quarkvm.kvm.KvmSegment;
import io.quarkvm.kvm.KvmSregs;
import io.quarkvm.kvm.ThreadSignals;
import io.quarkvm.kvm.VcpuExit;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * One vCPU and the platform thread that owns it: the thread creates the vCPU (KVM wants every vCPU ioctl from one
 * thread), sets it up for the guest, checks its identity, then runs the KVM_RUN loop and handles the exits.
 *
 * <p>Other threads steer it only through {@link #request}, and hand it work that must run on this thread through
 * its one mailbox ({@link #post}): the new request or task is published first, then kvm_run.immediate_exit and a
 * tgkill of the kick signal make KVM_RUN return EINTR (ARCHITECTURE.md, "Kicking a vCPU out of KVM_RUN"). The thread
 * clears immediate_exit before it reads the request and the mailbox, so no kick is lost.
 */
final class VcpuRunner {

    /** What the owner wants the vCPU to do. */
    enum Request { RUN, PAUSE, PARK, STOP }

    private static final System.Logger LOG = System.getLogger(VcpuRunner.class.getName());
    private static final int KICK_SIGNAL = ThreadSignals.kickSignal();
    private static final int PROCESS_ID = ThreadSignals.processId();

    // CR0, CR4, EFER bits for 64-bit paging (Intel SDM vol. 3, 2.5 and 2.2.1).
    private static final long CR0_PE = 1L;
    private static final long CR0_MP = 1L << 1;
    private static final long CR0_ET = 1L << 4;
    private static final long CR0_NE = 1L << 5;
    private static final long CR0_WP = 1L << 16;
    private static final long CR0_PG = 1L << 31;
    private static final long CR4_PAE = 1L << 5;
    private static final long EFER_LME = 1L << 8;
    private static final long EFER_LMA = 1L << 10;
    private static final int SEGMENT_TYPE_CODE_EXECUTE_READ_ACCESSED = 0xB;
    private static final int SEGMENT_TYPE_DATA_READ_WRITE_ACCESSED = 0x3;
    /**
     * How long a vCPU that executed HLT stays out of the guest before its thread re-enters KVM_RUN (which resumes
     * after the HLT): the period of the timer interrupt that would wake an idle OS, which this VM has none of (no
     * in-kernel irqchip, so KVM_RUN returns KVM_EXIT_HLT). Any request (pause, park, stop) ends the wait at once.
     */
    static final long HALT_TICK_MILLIS = 10;
    /**
     * At most this many tick wake-ups per second for a whole VM: a VM with many vCPUs ticks each of them more
     * slowly, so that an idle 1024-vCPU VM does not keep the host busy waking threads (as a tickless OS would).
     */
    static final long VM_WAKEUPS_PER_SECOND = 2000;
    /** What an IN from a port no device answers reads: all ones, like an empty bus. */
    private static final long FLOATING_BUS = -1L;

    private final VirtualMachine vm;
    /** Changes once, for a parked vCPU derived for a never-plugged slot, when it is plugged ({@link #adopt}). */
    private volatile VcpuIdentity identity;
    /** False while the identity has no cpu_index yet: the vCPU exists but is not set up for the guest. */
    private volatile boolean identityComplete;
    private final CountDownLatch go;
    private final CompletableFuture<Void> created = new CompletableFuture<>();
    private final CompletableFuture<Void> ready = new CompletableFuture<>();
    private final Thread thread;

    private final Object monitor = new Object();
    private volatile Request request = Request.RUN;
    /** Guarded by monitor: the thread is outside KVM_RUN and will not enter it before the request changes. */
    private boolean outOfGuest;
    /** Guarded by monitor: the thread has ended (or never got a vCPU). */
    private boolean finished;
    /** Guarded by monitor: the kernel thread id while the thread can take a kick, 0 otherwise. */
    private int threadId;
    /** Set once the vCPU exists; kickers set its immediate_exit, under the monitor and only while not finished. */
    private volatile HypervisorVcpu vcpu;
    /** Guarded by monitor: tasks for this thread, run in order between two runs of the guest. */
    private final ArrayDeque<Mail<?>> mailbox = new ArrayDeque<>();
    /**
     * Only the thread's own: the last exit (I/O, MMIO, RDMSR, WRMSR) is completed by KVM only at the next KVM_RUN,
     * and until then the vCPU's registers are not consistent (Documentation/virt/kvm/api.rst, kvm_run).
     */
    private boolean exitToComplete;
    private long kvmSignalMask;

    /** A task and who waits for its outcome. */
    private record Mail<T>(VcpuTask<T> task, CompletableFuture<T> outcome) {
        void deliver(HypervisorVcpu vcpu) {
            try {
                outcome.complete(task.runOn(vcpu));
            } catch (RuntimeException | Error e) {
                outcome.completeExceptionally(e); // the task's failure, not the vCPU's: it carries on
            }
        }

        void refuse(String why) {
            outcome.completeExceptionally(new IllegalStateException(why));
        }
    }

    /** The rate of this vCPU's TSC as the hypervisor gave it at set-up (KVM_GET_TSC_KHZ); empty before, or if none. */
    private volatile OptionalInt tscKhz = OptionalInt.empty();
    private volatile long rdmsrAnswered;
    private volatile long msrAccessesRefused;
    private volatile long ioExits;
    private volatile long kicksTaken;
    private volatile long halts;

    /**
     * @param parked           created (and set up, if {@code identityComplete}) but not run until requested
     * @param identityComplete false for a parked vCPU whose slot has no cpu_index yet: only its VP index is checked
     *                         now; it is set up for the guest by {@link #adopt}
     */
    VcpuRunner(VirtualMachine vm, VcpuIdentity identity, CountDownLatch go, boolean parked, boolean identityComplete) {
        this.vm = vm;
        this.identity = identity;
        this.identityComplete = identityComplete;
        this.go = go;
        if (parked) {
            this.request = Request.PARK;
        }
        this.thread = new VcpuThread(this::live, "vcpu-" + vm.name() + "-apic" + identity.apicId());
    }

    static boolean isVcpuThread(Thread thread) {
        return thread instanceof VcpuThread;
    }

    /** Marks the threads that run vCPUs, so that lifecycle calls can refuse to wait for themselves. */
    private static final class VcpuThread extends Thread {
        VcpuThread(Runnable body, String name) {
            super(body, name);
            setDaemon(true);
        }
    }

    VcpuIdentity identity() {
        return identity;
    }

    /** Starts the thread; {@link #ready()} completes when the vCPU exists, is set up and its identity checked. */
    void start() {
        thread.start();
    }

    /** Completes once the vCPU exists in KVM (the next one may be created), exceptionally if it could not be. */
    CompletableFuture<Void> created() {
        return created;
    }

    CompletableFuture<Void> ready() {
        return ready;
    }

    boolean identityComplete() {
        return identityComplete;
    }

    OptionalInt tscKhz() {
        return tscKhz;
    }

    /**
     * A parked vCPU without a cpu_index takes {@code full} (same slot and VP index, now with a cpu_index): its thread
     * sets it up for the guest and checks its identity, still parked. The future fails if that does.
     */
    CompletableFuture<Void> adopt(VcpuIdentity full) {
        return post(vcpu -> {
            takeIdentity(vcpu, full);
            return null;
        });
    }

    /**
     * Hands {@code task} to this vCPU's thread, which runs it between two runs of the guest: a vCPU in the guest is
     * kicked out for it and goes back in afterwards; a paused or parked one runs it where it waits, and stays so.
     * The outcome fails, and the vCPU carries on, if the task throws; it fails at once if the vCPU is stopping or
     * gone, and, for a task posted just before that, when the thread ends.
     */
    <T> CompletableFuture<T> post(VcpuTask<T> task) {
        Mail<T> mail = new Mail<>(task, new CompletableFuture<>());
        synchronized (monitor) {
            if (finished || request == Request.STOP) {
                mail.refuse("vCPU " + identity + " has stopped");
                return mail.outcome();
            }
            mailbox.add(mail);
            monitor.notifyAll();
            kick();
        }
        return mail.outcome();
    }

    VcpuCounters counters() {
        return new VcpuCounters(rdmsrAnswered, msrAccessesRefused, ioExits, kicksTaken, halts);
    }

    boolean isParked() {
        return request == Request.PARK;
    }

    /** Asks for {@code next} and makes sure the vCPU leaves the guest to see it. */
    void request(Request next) {
        synchronized (monitor) {
            if (request == Request.STOP) {
                return; // final
            }
            request = next;
            monitor.notifyAll();
            if (next != Request.RUN) {
                kick();
            }
        }
    }

    /** Holds the monitor: gets the thread out of KVM_RUN (or keeps it from entering) to look at what changed. */
    private void kick() {
        // Under the monitor, a thread that has not finished has not yet unmapped kvm_run (it does so only
        // after setting finished here) nor ended (so its thread id is not anybody else's).
        if (finished) {
            return;
        }
        HypervisorVcpu current = vcpu;
        if (current != null) {
            current.requestImmediateExit(true);
        }
        if (threadId != 0) {
            ThreadSignals.signalThread(PROCESS_ID, threadId, KICK_SIGNAL);
        }
    }

    /** Waits until the thread is outside the guest for good (paused, parked, halted or ended). */
    void awaitOutOfGuest() throws InterruptedException {
        synchronized (monitor) {
            while (!outOfGuest && !finished) {
                monitor.wait();
            }
        }
    }

    void join() throws InterruptedException {
        thread.join();
    }

    private void live() {
        try {
            runVcpu();
        } finally {
            // A kick may still be pending, and none can come any more (finished is set). HotSpot restores the
            // thread's original signal mask when a Java thread exits, which would deliver the kick signal with its
            // default action: killing the JVM.
            ThreadSignals.drainPending(KICK_SIGNAL);
        }
    }

    /** The thread's life: create and set up the vCPU, check its identity, wait for the go, run it, release it. */
    private void runVcpu() {
        try {
            long kvmSignalMask = ThreadSignals.blockForCurrentThread(KICK_SIGNAL);
            synchronized (monitor) {
                threadId = ThreadSignals.currentThreadId(); // kicks only once the signal is blocked
            }
            this.kvmSignalMask = kvmSignalMask;
            try {
                vcpu = vm.vmFd().createVcpu(identity.apicId());
            } catch (RuntimeException e) {
                created.completeExceptionally(e);
                ready.completeExceptionally(e);
                return;
            }
            created.complete(null);
            try {
                if (identityComplete) {
                    setUp(vcpu);
                    verifyIdentity(vcpu);
                } else {
                    KernelVpIndex.verify(vcpu, identity); // the creation order gave it the VP index planned
                }
            } catch (RuntimeException e) {
                ready.completeExceptionally(e);
                return;
            }
            ready.complete(null);
            go.await();
            runLoop();
        } catch (KvmException e) {
            if (!ready.completeExceptionally(e)) {
                vm.vcpuCrashed(identity, e.getMessage());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException | Error e) {
            if (!ready.completeExceptionally(e)) {
                LOG.log(System.Logger.Level.ERROR, "vCPU thread failed", e);
                vm.vcpuCrashed(identity, "vCPU thread failed: " + e);
            }
        } finally {
            HypervisorVcpu closing;
            synchronized (monitor) {
                threadId = 0; // no kick may reach a thread id that could be reused
                finished = true;
                mailbox.forEach(mail -> mail.refuse("the thread of vCPU " + identity + " ended"));
                mailbox.clear();
                closing = vcpu;
                vcpu = null; // request() must never write to a kvm_run that is about to be unmapped
                monitor.notifyAll();
            }
            if (closing != null) {
                closing.close();
            }
        }
    }

    /** 64-bit mode as GuestLayout prepares it: paging on, CS.L = 1, RSP at this vCPU's stack, RBX = cpu_index. */
    private void setUp(HypervisorVcpu vcpu) {
        vcpu.setCpuid2(vm.cpuidFor(identity));
        if (vm.hypervVpIndex() && vm.vpIndexProvider() == VpIndexProvider.KERNEL_SETTABLE) {
            KernelVpIndex.set(vcpu, identity);
        }

        KvmSregs sregs = vcpu.getSregs();
        sregs.cs = segment(GuestLayout.GDT_CODE_SELECTOR, SEGMENT_TYPE_CODE_EXECUTE_READ_ACCESSED, true);
        KvmSegment data = segment(GuestLayout.GDT_DATA_SELECTOR, SEGMENT_TYPE_DATA_READ_WRITE_ACCESSED, false);
        sregs.ds = data;
        sregs.es = data;
        sregs.fs = data;
        sregs.gs = data;
        sregs.ss = data;
        sregs.gdt = table(GuestLayout.GDT, 3 * 8 - 1);
        sregs.idt = table(GuestLayout.IDT, GuestLayout.IDT_ENTRIES * GuestLayout.IDT_GATE_SIZE - 1);
        sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
        sregs.cr3 = GuestLayout.PML4;
        sregs.cr4 = CR4_PAE;
        sregs.efer = EFER_LME | EFER_LMA;
        vcpu.setSregs(sregs);

        KvmRegs regs = new KvmRegs();
        regs.rip = GuestLayout.CODE;
        regs.rsp = GuestLayout.stackTopOf(identity.cpuIndex());
        regs.rbx = identity.cpuIndex();
        regs.rflags = KvmRegs.RFLAGS_RESERVED;
        vcpu.setRegs(regs);

        vcpu.setSignalMask(kvmSignalMask);
        tscKhz = vcpu.getTscKhz();
    }

    private static KvmSegment segment(int selector, int type, boolean code) {
        KvmSegment segment = new KvmSegment();
        segment.base = 0;
        segment.limit = 0xFFFFFFFF;
        segment.selector = selector;
        segment.type = type;
        segment.present = true;
        segment.dpl = 0;
        segment.s = true;
        segment.l = code;
        segment.db = !code;
        segment.g = true;
        return segment;
    }

    private static KvmDtable table(long base, int limit) {
        KvmDtable table = new KvmDtable();
        table.base = base;
        table.limit = limit;
        return table;
    }

    /**
     * Before the first KVM_RUN: the vCPU has the persisted APIC ID (as vcpu_id and in the CPUID KVM now holds for
     * it) and the VP index it will be served (from the table, or by the kernel as KVM_GET_MSRS reads it) is the
     * persisted one, within what CPUID advertises.
     */
    private void verifyIdentity(HypervisorVcpu vcpu) {
        int apicId = identity.apicId();
        List<CpuidEntry> cpuid = vcpu.getCpuid2();
        StringBuilder mismatches = new StringBuilder();
        if (vcpu.apicId() != apicId) {
            mismatches.append(" vcpu_id ").append(vcpu.apicId());
        }
        int leaf1 = leaf(cpuid, GuestCpuid.LEAF_FEATURES, 0).ebx() >>> 24;
        if (leaf1 != (apicId & 0xFF)) {
            mismatches.append(" CPUID 0x1 EBX[31:24] ").append(leaf1);
        }
        for (int topologyLeaf : new int[] {GuestCpuid.LEAF_TOPOLOGY, GuestCpuid.LEAF_TOPOLOGY_V2}) {
            int x2ApicId = leaf(cpuid, topologyLeaf, 0).edx();
            if (x2ApicId != apicId) {
                mismatches.append(String.format(" CPUID 0x%x EDX %d", topologyLeaf, x2ApicId));
            }
        }
        if (vm.hypervVpIndex()) {
            if (vm.vpIndexProvider() == VpIndexProvider.USERSPACE_MSR) {
                long served = vm.vpIndexServedTo(identity);
                if (served != identity.vpIndex()) {
                    mismatches.append(" served VP index ").append(served);
                }
            } else {
                KernelVpIndex.verify(vcpu, identity);
            }
            int maxVps = leaf(cpuid, GuestCpuid.HV_IMPLEMENTATION_LIMITS, 0).eax();
            if (identity.vpIndex() >= maxVps) {
                mismatches.append(" VP index beyond the advertised maximum ").append(maxVps);
            }
        } else if (cpuid.stream().anyMatch(entry -> GuestCpuid.isHypervisorLeaf(entry.function()))) {
            mismatches.append(" hypervisor CPUID leaves present with hyperv.vpindex off");
        }
        if (!mismatches.isEmpty()) {
            throw new IdentityMismatchException("vCPU cpu_index " + identity.cpuIndex() + " (APIC ID " + apicId
                    + ", VP index " + identity.vpIndex() + ") would run with:" + mismatches);
        }
    }

    private CpuidEntry leaf(List<CpuidEntry> cpuid, int function, int index) {
        return cpuid.stream().filter(e -> e.function() == function && e.index() == index).findFirst()
                .orElseThrow(() -> new IdentityMismatchException(String.format(
                        "vCPU APIC ID %d has no CPUID leaf 0x%x.%d", identity.apicId(), function, index)));
    }

    private void runLoop() throws InterruptedException {
        while (awaitRunnable() == Request.RUN) {
            VcpuExit exit = vcpu.run();
            exitToComplete = exit instanceof VcpuExit.Io || exit instanceof VcpuExit.Mmio
                    || exit instanceof VcpuExit.RdMsr || exit instanceof VcpuExit.WrMsr;
            if (!handle(exit)) {
                return;
            }
        }
    }

    /**
     * Blocks while paused or parked, telling waiters the vCPU is out of the guest, and runs the tasks posted
     * meanwhile, whatever the request, once the last exit is complete (RUN to complete it first); returns RUN or STOP
     * once the mailbox is empty.
     */
    private Request awaitRunnable() throws InterruptedException {
        while (true) {
            List<Mail<?>> mail;
            synchronized (monitor) {
                while ((request == Request.PAUSE || request == Request.PARK) && mailbox.isEmpty()) {
                    outOfGuest = true;
                    monitor.notifyAll();
                    monitor.wait();
                }
                if (mailbox.isEmpty()) {
                    outOfGuest = false;
                    return request;
                }
                if (exitToComplete) {
                    // KVM_RUN with immediate_exit set completes the exit and returns EINTR before the guest runs.
                    vcpu.requestImmediateExit(true);
                    return Request.RUN;
                }
                mail = new ArrayList<>(mailbox);
                mailbox.clear();
            }
            mail.forEach(each -> each.deliver(vcpu));
        }
    }

    /**
     * A parked vCPU derived for a never-plugged slot sets itself up for the guest with its full identity and checks
     * it; it stays parked either way, and keeps the derived identity if that fails.
     */
    private void takeIdentity(HypervisorVcpu vcpu, VcpuIdentity full) {
        if (identityComplete) {
            throw new IllegalStateException("vCPU " + identity + " cannot take " + full + ": it has its identity");
        }
        VcpuIdentity derived = identity;
        try {
            identity = full;
            setUp(vcpu);
            verifyIdentity(vcpu);
            identityComplete = true;
        } catch (RuntimeException e) {
            identity = derived;
            throw e;
        }
    }

    /** Handles one exit; false when the vCPU cannot go on (the VM has been told why). */
    private boolean handle(VcpuExit exit) throws InterruptedException {
        if (exit instanceof VcpuExit.Interrupted) {
            kicksTaken++;
            ThreadSignals.drainPending(KICK_SIGNAL);
            vcpu.requestImmediateExit(false); // before the request is read again: a later kick sets it anew
            return true;
        }
        if (exit instanceof VcpuExit.Io io) {
            ioExits++;
            if (io.out()) {
                return guestReported(io.port());
            }
            vcpu.answerIoIn(FLOATING_BUS);
            return true;
        }
        if (exit instanceof VcpuExit.RdMsr rdmsr) {
            if (rdmsr.index() == GuestProbe.HV_X64_MSR_VP_INDEX && vm.hypervVpIndex()
                    && vm.vpIndexProvider() == VpIndexProvider.USERSPACE_MSR) {
                rdmsrAnswered++;
                vcpu.answerRdmsr(vm.vpIndexServedTo(identity));
            } else {
                msrAccessesRefused++;
                vcpu.refuseMsrAccess();
            }
            return true;
        }
        if (exit instanceof VcpuExit.WrMsr) {
            msrAccessesRefused++;
            vcpu.refuseMsrAccess(); // HV_X64_MSR_VP_INDEX is read-only: the guest gets #GP
            return true;
        }
        if (exit instanceof VcpuExit.Mmio mmio) {
            if (!mmio.write()) {
                vcpu.answerMmioRead(FLOATING_BUS); // no device behind any MMIO address
            }
            return true;
        }
        if (exit instanceof VcpuExit.Hlt) {
            halts++;
            waitOneTick();
            return true;
        }
        if (exit instanceof VcpuExit.Shutdown) {
            return crashed("triple fault (KVM_EXIT_SHUTDOWN)");
        }
        if (exit instanceof VcpuExit.FailEntry failEntry) {
            return crashed(String.format("KVM_EXIT_FAIL_ENTRY, hardware reason 0x%x on host CPU %d",
                    failEntry.hardwareEntryFailureReason(), failEntry.cpu()));
        }
        if (exit instanceof VcpuExit.InternalError internalError) {
            return crashed("KVM_EXIT_INTERNAL_ERROR, suberror " + internalError.suberror() + ", data "
                    + internalError.data());
        }
        VcpuExit.Unknown unknown = (VcpuExit.Unknown) exit;
        return crashed(String.format("unhandled exit reason %d (hardware reason 0x%x)",
                unknown.exitReason(), unknown.hardwareExitReason()));
    }

    private boolean guestReported(int port) {
        switch (port) {
            case GuestProbe.PORT_REPORT_COMPLETE -> vm.identityReported(identity);
            case GuestProbe.PORT_VIOLATION -> vm.violationReported(identity);
            case GuestProbe.PORT_UNEXPECTED_FAULT -> {
                return crashed("the probe took #GP on an instruction other than RDMSR/WRMSR");
            }
            default -> {
                // PORT_IDENTITY_STORED and ports of other guests: nothing to do.
            }
        }
        return true;
    }

    private boolean crashed(String reason) {
        vm.vcpuCrashed(identity, reason);
        return false;
    }

    /**
     * The guest halted: nothing but a timer could wake it, so wait one tick of its VM, or less if another request
     * or a task arrives (which the caller's next {@code awaitRunnable} then honours), without spinning.
     */
    private void waitOneTick() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(vm.haltTickMillis());
        synchronized (monitor) {
            for (long left = deadline - System.nanoTime(); request == Request.RUN && mailbox.isEmpty() && left > 0;
                 left = deadline - System.nanoTime()) {
                TimeUnit.NANOSECONDS.timedWait(monitor, left);
            }
        }
    }
}
