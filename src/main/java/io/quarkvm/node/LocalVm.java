package io.quarkvm.node;

import io.quarkvm.vmm.VirtualMachine;

import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A VM running on this node: its machine, the boot it is, and how many boot vCPUs have yet to report. A report
 * counts once it is committed: until then the boot is not up, however many the guest made.
 */
final class LocalVm {

    final UUID id;
    final long bootId;
    final long startedNanos = System.nanoTime();
    private final AtomicInteger bootVcpusToReport;
    private final AtomicInteger reportsUncommitted = new AtomicInteger();
    volatile VirtualMachine machine;

    LocalVm(UUID id, long bootId, int bootVcpus) {
        this.id = id;
        this.bootId = bootId;
        this.bootVcpusToReport = new AtomicInteger(bootVcpus);
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
