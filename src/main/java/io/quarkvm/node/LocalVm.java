package io.quarkvm.node;

import io.quarkvm.vmm.VirtualMachine;

import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

/** A VM running on this node: its machine, the boot it is, and how many boot vCPUs have yet to report. */
final class LocalVm {

    final UUID id;
    final long bootId;
    final long startedNanos = System.nanoTime();
    private final AtomicInteger bootVcpusToReport;
    volatile VirtualMachine machine;

    LocalVm(UUID id, long bootId, int bootVcpus) {
        this.id = id;
        this.bootId = bootId;
        this.bootVcpusToReport = new AtomicInteger(bootVcpus);
    }

    /** Counts one report; true for the report that completes the boot (hot-plugged vCPUs report beyond it). */
    boolean bootVcpuReported() {
        return bootVcpusToReport.decrementAndGet() == 0;
    }

    /** Every boot vCPU's guest has reported what it sees. */
    boolean isUp() {
        return bootVcpusToReport.get() <= 0;
    }
}
