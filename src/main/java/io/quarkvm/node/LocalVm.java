package io.quarkvm.node;

import io.quarkvm.vmm.VirtualMachine;

import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A VM running on this node: its machine, the boot it is, and how many boot vCPUs have yet to report. A report
 * counts once it is committed: until then the boot is not up, however many the guest made. Once it is being stopped
 * it says why, until its machine has released everything; only the reconciler's worker on this VM changes that.
 */
final class LocalVm {

    final UUID id;
    final long bootId;
    final long startedNanos = System.nanoTime();
    private final AtomicInteger bootVcpusToReport;
    private final AtomicInteger reportsUncommitted = new AtomicInteger();
    volatile VirtualMachine machine;
    /** Why the machine is being stopped; null while it is meant to run. */
    private volatile String stopReason;
    /** The stop is the end of a crash, to be recorded as one once the machine is gone. */
    private volatile boolean crashed;
    /** The machine has been asked to stop. */
    private volatile boolean machineStopAsked;

    LocalVm(UUID id, long bootId, int bootVcpus) {
        this.id = id;
        this.bootId = bootId;
        this.bootVcpusToReport = new AtomicInteger(bootVcpus);
    }

    /** The first reason given is the one the boot ends with. */
    void beginStop(String reason, boolean crash) {
        if (stopReason == null) {
            stopReason = reason;
            crashed = crash;
        }
    }

    String stopReason() {
        return stopReason;
    }

    boolean isStopping() {
        return stopReason != null;
    }

    boolean crashed() {
        return crashed;
    }

    /** True the first time only: the machine is about to be asked to stop, and still answers at once. */
    boolean askingMachineToStop() {
        boolean first = !machineStopAsked;
        machineStopAsked = true;
        return first;
    }

    /** A report of this VM's guest was handed to the report writer. */
    void reportSubmitted() {
        reportsUncommitted.incrementAndGet();
    }

    /**
     * Whether committing this many more reports completes the boot (hot-plugged vCPUs report beyond it). Only the
     * report writer commits reports, one batch after the other, so the answer holds until it says they committed.
     */
    boolean completedBy(int reports) {
        int left = bootVcpusToReport.get();
        return left > 0 && left <= reports;
    }

    /** These reports are in the database. */
    void reportsCommitted(int reports) {
        bootVcpusToReport.addAndGet(-reports);
        reportsUncommitted.addAndGet(-reports);
    }

    /** These reports will never be written (the node is shutting down and the database still refuses them). */
    void reportsGivenUp(int reports) {
        reportsUncommitted.addAndGet(-reports);
    }

    /** Reports the guest made are still being written (or retried while the database refuses them). */
    boolean hasReportsUncommitted() {
        return reportsUncommitted.get() > 0;
    }

    /** Every boot vCPU's guest has reported what it sees, and that is committed. */
    boolean isUp() {
        return bootVcpusToReport.get() <= 0;
    }
}
