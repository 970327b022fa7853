package io.quarkvm.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkvm.domain.Topology;
import io.quarkvm.domain.VpIndexPolicy;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.emulated.TestHypervisors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Measures (and bounds loosely) start and stop latency and the native memory a VM costs; prints the numbers. */
class VirtualMachineTimingTest {

    /**
     * Prints, per VM size: start() (vCPUs created, set up, identity-checked, let in), start until every vCPU's
     * probe reported, and stop. The probe idles (HLT) once it has reported, so vCPUs beyond the host's cores no
     * longer wait seconds for CPU time behind spinning ones.
     */
    @Test
    void startUntilEveryVcpuReportedAndStopLatency() throws Exception {
        try (Hypervisor kvm = TestHypervisors.open()) {
            measure(kvm, new Topology(1, 1, 1, 1)); // warm-up: class loading, JIT
            for (Topology topology : List.of(new Topology(1, 1, 1, 1), new Topology(1, 1, 2, 2),
                    new Topology(2, 1, 16, 2))) {
                boolean oversubscribed = topology.maxVcpus() > Runtime.getRuntime().availableProcessors() * 4;
                int runs = oversubscribed ? 2 : 5;
                long[][] measured = new long[3][runs];
                for (int run = 0; run < runs; run++) {
                    long[] one = measure(kvm, topology);
                    for (int i = 0; i < 3; i++) {
                        measured[i][run] = one[i];
                    }
                }
                System.out.printf("%2d vCPUs, %d runs: start() %s µs; start until all reported %s µs; stop %s µs%n",
                        topology.maxVcpus(), runs, summary(measured[0]), summary(measured[1]), summary(measured[2]));
                if (!oversubscribed) { // else the stopping threads wait for CPU time behind spinning vCPUs
                    assertTrue(median(measured[2]) < 100_000, "median stop latency " + median(measured[2]) + " µs");
                }
            }
        }
    }

    /** Returns {start() µs, start until all reported µs, stop µs}. */
    private static long[] measure(Hypervisor kvm, Topology topology) throws Exception {
        int vcpus = topology.maxVcpus();
        VmSpec spec = VmSpec.probe(16, topology, VirtualMachineIdentityTest.boot(topology, VpIndexPolicy.SLOT_INDEX,
                vcpus), true, VpIndexProvider.USERSPACE_MSR);
        ProbeReports reports = new ProbeReports(vcpus);
        long started = System.nanoTime();
        VirtualMachine vm = VirtualMachine.start(kvm, spec, reports);
        long running = System.nanoTime();
        long allReported = reports.awaitAllReported();
        long stopping = System.nanoTime();
        vm.stop();
        long stopped = System.nanoTime();
        return new long[] {(running - started) / 1000, (allReported - started) / 1000, (stopped - stopping) / 1000};
    }

    @Test
    void nativeMemoryPerRunningVm() throws Exception {
        int count = 20;
        try (Hypervisor kvm = TestHypervisors.open()) {
            Topology four = new Topology(1, 1, 2, 2);
            VmSpec spec = VmSpec.probe(64, four, VirtualMachineIdentityTest.boot(four, VpIndexPolicy.SLOT_INDEX, 4),
                    true, VpIndexProvider.USERSPACE_MSR);
            List<VirtualMachine> vms = new ArrayList<>();
            long rssBefore = residentKiB();
            try {
                for (int i = 0; i < count; i++) {
                    ProbeReports reports = new ProbeReports(4);
                    vms.add(VirtualMachine.start(kvm, spec, reports));
                    reports.awaitAllReported();
                }
                long perVm = (residentKiB() - rssBefore) / count;
                System.out.printf("resident memory per running 4-vCPU VM with 64 MiB of guest RAM: ~%d KiB "
                        + "(guest RAM is mapped lazily; includes 4 vCPU threads' stacks in use)%n", perVm);
                assertTrue(perVm < 16 * 1024, "a VM costs " + perVm + " KiB");
            } finally {
                vms.forEach(VirtualMachine::stop);
            }
            vms.forEach(vm -> assertEquals(VirtualMachine.State.STOPPED, vm.state()));
        }
    }

    private static long residentKiB() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(line -> line.startsWith("VmRSS:"))
                .mapToLong(line -> Long.parseLong(line.replaceAll("\\D", ""))).findFirst().orElseThrow();
    }

    private static long median(long[] values) {
        long[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    private static String summary(long[] values) {
        long[] sorted = values.clone();
        Arrays.sort(sorted);
        return "min " + sorted[0] + " / median " + sorted[sorted.length / 2] + " / max " + sorted[sorted.length - 1];
    }
}
