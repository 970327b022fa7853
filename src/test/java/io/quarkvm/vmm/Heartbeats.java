package io.quarkvm.vmm;

import static org.assertj.core.api.Assertions.assertThat;

import io.quarkvm.domain.VcpuIdentity;
import java.util.concurrent.TimeUnit;

/** The heartbeats of a VM's plugged vCPUs (the probe's, or any guest that counts turns in its record), for tests. */
public final class Heartbeats {

    private static final long WAIT_SECONDS = 60;

    private Heartbeats() {
    }

    /** Waits until every plugged vCPU's heartbeat has reached {@code atLeast}; fails after a minute. */
    public static void awaitAtLeast(VirtualMachine vm, long atLeast) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        for (VcpuIdentity identity : vm.pluggedVcpus()) {
            while (vm.heartbeats(identity.cpuIndex()) < atLeast) {
                assertThat(System.nanoTime()).as("heartbeat of cpu_index %d reaches %d (at %d)", identity.cpuIndex(),
                        atLeast, vm.heartbeats(identity.cpuIndex())).isLessThan(deadline);
                Thread.sleep(2);
            }
        }
    }

    /** The smallest heartbeat of the plugged vCPUs. */
    public static long slowest(VirtualMachine vm) {
        return vm.pluggedVcpus().stream().mapToLong(identity -> vm.heartbeats(identity.cpuIndex())).min()
                .orElseThrow();
    }
}
