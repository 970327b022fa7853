package io.quarkvm.node;

import io.quarkvm.vmm.VirtualMachine;

import java.util.UUID;
import java.util.concurrent.CountDownLatch;

/** A VM running on this node: its machine, the boot it is, and the latch its boot vCPUs' reports count down. */
final class LocalVm {

    final UUID id;
    final long bootId;
    final CountDownLatch bootVcpusReported;
    volatile VirtualMachine machine;

    LocalVm(UUID id, long bootId, int bootVcpus) {
        this.id = id;
        this.bootId = bootId;
        this.bootVcpusReported = new CountDownLatch(bootVcpus);
    }
}
