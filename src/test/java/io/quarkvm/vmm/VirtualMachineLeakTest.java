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
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Starting and stopping a VM many times leaves no descriptor and no mapping behind. */
class VirtualMachineLeakTest {

    private static final int CYCLES = 1000;
    private static final int WARM_UP_CYCLES = 100;
    private static final Topology ONE = new Topology(1, 1, 1, 1);

    @Test
    void thousandStartStopCyclesLeakNoFdNoMappingAndNoThread() throws Exception {
        try (Hypervisor kvm = TestHypervisors.open()) {
            VmSpec spec = VmSpec.probe(2, ONE, VirtualMachineIdentityTest.boot(ONE, VpIndexPolicy.SLOT_INDEX, 1),
                    true, VpIndexProvider.USERSPACE_MSR);
            // Before counting: load every class and native stub, and let glibc create the malloc arenas new vCPU
            // threads get (up to 8 per core, each a mapping or two; the emulator mallocs on its vCPU's thread).
            for (int i = 0; i < WARM_UP_CYCLES; i++) {
                cycle(kvm, spec);
            }
            long fdsBefore = openDescriptors();
            long kvmFdsBefore = kvmDescriptors();
            long mappingsBefore = mappings();
            long threadsBefore = threads();
            long started = System.nanoTime();
            for (int i = 0; i < CYCLES; i++) {
                cycle(kvm, spec);
            }
            long millis = (System.nanoTime() - started) / 1_000_000;
            long fdsAfter = openDescriptors();
            long kvmFdsAfter = kvmDescriptors();
            long mappingsAfter = mappings();
            long threadsAfter = threads();
            System.out.printf("%d start/report/stop cycles of a 1-vCPU VM on %s: %d ms (%.2f ms each); fds %d -> %d, "
                    + "mappings %d -> %d, threads %d -> %d%n", CYCLES, kvm, millis, (double) millis / CYCLES,
                    fdsBefore, fdsAfter, mappingsBefore, mappingsAfter, threadsBefore, threadsAfter);
            // Other tests' services may open or close a few descriptors of their own meanwhile (this JVM is shared);
            // KVM's own (the VM and vCPU fds, anon_inode:kvm-*) must come back exactly, and no more may be open.
            assertEquals(kvmFdsBefore, kvmFdsAfter, "KVM file descriptors leaked");
            assertTrue(fdsAfter - fdsBefore < 20, "file descriptors leaked: " + fdsBefore + " -> " + fdsAfter);
            // A leaked VM leaves its RAM (and, emulated, its engine's code buffer) mapped: ≥ 1 mapping per cycle, 1000
            // here. The JVM maps and unmaps regions of its own meanwhile (JIT code, GC, malloc arenas of threads that
            // other test classes' services in this JVM start and end): up to 58 seen in a full run, so a tenth of a
            // mapping per cycle is what this tells apart.
            assertTrue(mappingsAfter - mappingsBefore < CYCLES / 10,
                    "mappings leaked: " + mappingsBefore + " -> " + mappingsAfter);
            // Every VM has a vCPU thread and a stopper at most; the JVM may add a compiler or GC thread meanwhile.
            assertTrue(threadsAfter - threadsBefore < 10, "threads leaked: " + threadsBefore + " -> " + threadsAfter);
        }
    }

    private static void cycle(Hypervisor kvm, VmSpec spec) throws InterruptedException {
        ProbeReports reports = new ProbeReports(1);
        try (VirtualMachine vm = VirtualMachine.start(kvm, spec, reports)) {
            reports.awaitAllReported();
        }
    }

    static long openDescriptors() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    /** Descriptors of KVM objects: /dev/kvm and the anon_inode:kvm-vm / kvm-vcpu descriptors it hands out. */
    static long kvmDescriptors() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().contains("kvm");
                } catch (IOException gone) {
                    return false;
                }
            }).count();
        }
    }

    /** The process's threads, as the kernel counts them (JVM-internal ones included). */
    static long threads() throws IOException {
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            return tasks.count();
        }
    }

    static long mappings() throws IOException {
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.count();
        }
    }
}
