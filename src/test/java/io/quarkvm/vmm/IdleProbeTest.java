package io.quarkvm.vmm;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkvm.domain.Topology;
import io.quarkvm.domain.VpIndexPolicy;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.emulated.TestHypervisors;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The probe idles like an OS (HLT after each heartbeat; the vCPU thread waits a tick and re-enters): measures the
 * host CPU an idle VM costs and how long a 64-vCPU VM takes until every vCPU has reported; prints both.
 */
class IdleProbeTest {

    /** Host CPU per wall-clock second an idle 4-vCPU VM may use: far below one core. */
    private static final double MAX_IDLE_CPU_SECONDS_PER_SECOND = 0.25;

    @Test
    void anIdleFourVcpuVmCostsLittleHostCpu() throws Exception {
        try (Hypervisor kvm = TestHypervisors.open()) {
            Topology four = new Topology(1, 1, 2, 2);
            ProbeReports reports = new ProbeReports(4);
            VmSpec spec = VmSpec.probe(8, four, VirtualMachineIdentityTest.boot(four, VpIndexPolicy.SLOT_INDEX, 4),
                    true, VpIndexProvider.USERSPACE_MSR);
            try (VirtualMachine vm = VirtualMachine.start(kvm, spec, reports)) {
                reports.awaitAllReported();
                Thread.sleep(200);
                List<Thread> vcpuThreads = vcpuThreadsOf(vm);
                long[] beatsBefore = heartbeats(vm, 4);
                long cpuBefore = cpuNanos(vcpuThreads);
                long wallBefore = System.nanoTime();
                Thread.sleep(1000);
                long cpu = cpuNanos(vcpuThreads) - cpuBefore;
                double seconds = (System.nanoTime() - wallBefore) / 1e9;
                long[] beatsAfter = heartbeats(vm, 4);
                double perSecond = cpu / 1e9 / seconds;
                System.out.printf("idle 4-vCPU VM: %.4f CPU-seconds per second on its %d vCPU threads; heartbeats per "
                        + "vCPU per second %d%n", perSecond, vcpuThreads.size(),
                        Math.round((beatsAfter[0] - beatsBefore[0]) / seconds));
                for (int cpuIndex = 0; cpuIndex < 4; cpuIndex++) {
                    assertTrue(beatsAfter[cpuIndex] > beatsBefore[cpuIndex], "vCPU " + cpuIndex + " stopped beating");
                }
                assertTrue(perSecond < MAX_IDLE_CPU_SECONDS_PER_SECOND, "an idle 4-vCPU VM uses " + perSecond
                        + " CPU-seconds per second");
            }
        }
    }

    @Test
    void everyVcpuOfA64VcpuVmReportsQuickly() throws Exception {
        try (Hypervisor kvm = TestHypervisors.open()) {
            Topology sixtyFour = new Topology(2, 1, 16, 2);
            for (int run = 0; run < 3; run++) {
                ProbeReports reports = new ProbeReports(64);
                VmSpec spec = VmSpec.probe(16, sixtyFour, VirtualMachineIdentityTest.boot(sixtyFour,
                        VpIndexPolicy.SLOT_INDEX, 64), true, VpIndexProvider.USERSPACE_MSR);
                long started = System.nanoTime();
                try (VirtualMachine vm = VirtualMachine.start(kvm, spec, reports)) {
                    long allReported = reports.awaitAllReported();
                    long millis = (allReported - started) / 1_000_000;
                    System.out.printf("64-vCPU VM, run %d: start until all 64 vCPUs reported %d ms%n", run, millis);
                }
            }
        }
    }

    static List<Thread> vcpuThreadsOf(VirtualMachine vm) {
        String prefix = "vcpu-" + vm.name() + "-";
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith(prefix)).toList();
    }

    static long cpuNanos(List<Thread> threads) {
        ThreadMXBean bean = ManagementFactory.getThreadMXBean();
        return threads.stream().mapToLong(t -> Math.max(0, bean.getThreadCpuTime(t.getId()))).sum();
    }

    private static long[] heartbeats(VirtualMachine vm, int count) {
        long[] beats = new long[count];
        for (int cpu = 0; cpu < count; cpu++) {
            beats[cpu] = vm.heartbeats(cpu);
        }
        return beats;
    }
}
