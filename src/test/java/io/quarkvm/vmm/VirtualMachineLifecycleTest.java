package io.quarkvm.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkvm.domain.Topology;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VpIndexPolicy;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.emulated.TestHypervisors;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Pause, resume, stop, crash, park and hot-plug on real /dev/kvm, with the guest spinning all the time. */
class VirtualMachineLifecycleTest {

    private static final Topology FOUR = new Topology(1, 1, 2, 2);
    private static Hypervisor kvm;

    @BeforeAll
    static void openKvm() {
        kvm = TestHypervisors.shared();
    }


    private static VmSpec probeSpec(Topology topology, int vcpus) {
        return VmSpec.probe(8, topology, VirtualMachineIdentityTest.boot(topology, VpIndexPolicy.SLOT_INDEX, vcpus),
                true, VpIndexProvider.USERSPACE_MSR);
    }

    /**
     * The busy probe without Hyper-V never leaves the kernel (no HLT, its CPUIDs are answered there), so the vCPU
     * threads stay inside KVM_RUN until a kick signal interrupts them: immediate_exit alone could not stop them.
     */
    private static VmSpec spinningInKernelSpec(int vcpus) {
        return new VmSpec(8, FOUR, VirtualMachineIdentityTest.boot(FOUR, VpIndexPolicy.SLOT_INDEX, vcpus),
                false, VpIndexProvider.USERSPACE_MSR, GuestProgram.busyProbe());
    }

    @Test
    void theIdleProbeHeartbeatsStandStillWhilePausedAndGoOnAfterResume() throws Exception {
        ProbeReports reports = new ProbeReports(4);
        try (VirtualMachine vm = VirtualMachine.start(kvm, probeSpec(FOUR, 4), reports)) {
            reports.awaitAllReported();
            awaitHeartbeatsGrowing(vm, 4);
            assertTrue(vm.counters(0).halts() > 0, "the probe did not halt");

            vm.pause();
            long[] paused = heartbeats(vm, 4);
            Thread.sleep(100);
            long[] stillPaused = heartbeats(vm, 4);
            for (int cpu = 0; cpu < 4; cpu++) {
                assertEquals(paused[cpu], stillPaused[cpu], "vCPU " + cpu + " ran while paused");
            }
            long pauseStarted = System.nanoTime();
            vm.resume();
            vm.pause();
            long pauseMicros = (System.nanoTime() - pauseStarted) / 1000;
            assertTrue(pauseMicros < VcpuRunner.HALT_TICK_MILLIS * 1000 * 5, "pause took " + pauseMicros + " µs");
            vm.resume();
            awaitHeartbeatsGrowing(vm, 4);
            long before = System.nanoTime();
            vm.stop();
            long stopMicros = (System.nanoTime() - before) / 1000;
            assertTrue(stopMicros < 100_000, "stop of an idle VM took " + stopMicros + " µs");
        }
    }

    private static void assertNoExitToUserSpaceFor(VirtualMachine vm, int apicId, long millis) throws Exception {
        VcpuCounters before = vm.counters(apicId);
        Thread.sleep(millis);
        assertEquals(before, vm.counters(apicId), "the guest left KVM_RUN by itself");
    }

    @Test
    void heartbeatsStandStillWhilePausedAndGoOnAfterResume() throws Exception {
        ProbeReports reports = new ProbeReports(4);
        try (VirtualMachine vm = VirtualMachine.start(kvm, spinningInKernelSpec(4), reports)) {
            reports.awaitAllReported();
            awaitHeartbeatsGrowing(vm, 4);
            assertNoExitToUserSpaceFor(vm, 0, 50);

            vm.pause();
            assertEquals(VirtualMachine.State.PAUSED, vm.state());
            long[] paused = heartbeats(vm, 4);
            Thread.sleep(200);
            long[] stillPaused = heartbeats(vm, 4);
            for (int cpu = 0; cpu < 4; cpu++) {
                assertEquals(paused[cpu], stillPaused[cpu], "vCPU " + cpu + " ran while paused");
            }

            vm.resume();
            assertEquals(VirtualMachine.State.RUNNING, vm.state());
            Thread.sleep(100);
            long[] resumed = heartbeats(vm, 4);
            for (int cpu = 0; cpu < 4; cpu++) {
                assertTrue(resumed[cpu] > stillPaused[cpu], "vCPU " + cpu + " did not run after resume");
            }
            assertTrue(vm.counters(0).kicksTaken() >= 1, "pause went through EINTR from KVM_RUN");
        }
    }

    @Test
    void stopTakesLessThan100MsWhileTheGuestSpins() throws Exception {
        ProbeReports reports = new ProbeReports(4);
        VirtualMachine vm = VirtualMachine.start(kvm, spinningInKernelSpec(4), reports);
        reports.awaitAllReported();
        awaitHeartbeatsGrowing(vm, 4);
        assertNoExitToUserSpaceFor(vm, 0, 50);
        long before = System.nanoTime();
        vm.stop();
        long stopMicros = (System.nanoTime() - before) / 1000;
        System.out.printf("stop of a spinning 4-vCPU VM: %d µs%n", stopMicros);
        assertTrue(stopMicros < 100_000, "stop took " + stopMicros + " µs");
        assertEquals(VirtualMachine.State.STOPPED, vm.state());
        assertTrue(reports.awaitStopped(0));
        assertThrows(IllegalStateException.class, () -> vm.heartbeats(0), "guest memory is gone after stop");
        vm.stop(); // idempotent
    }

    @Test
    void aTripleFaultCrashesOnlyItsOwnVm() throws Exception {
        ProbeReports healthyReports = new ProbeReports(2);
        try (VirtualMachine healthy = VirtualMachine.start(kvm, probeSpec(FOUR, 2), healthyReports)) {
            healthyReports.awaitAllReported();

            ProbeReports crashingReports = new ProbeReports(1);
            VmSpec crashing = new VmSpec(4, FOUR, VirtualMachineIdentityTest.boot(FOUR, VpIndexPolicy.SLOT_INDEX, 1),
                    false, VpIndexProvider.USERSPACE_MSR, GuestProgram.tripleFault());
            VirtualMachine crashed = VirtualMachine.start(kvm, crashing, crashingReports);
            assertTrue(crashingReports.awaitCrash(5), "the triple-fault guest did not crash");
            assertTrue(crashed.awaitStopped(5, TimeUnit.SECONDS), "the crashed VM was not released");
            assertEquals(VirtualMachine.State.CRASHED, crashed.state());
            String reason = crashed.crashReason().orElseThrow();
            System.out.println("crash reason: " + reason);
            assertTrue(reason.contains("triple fault"), reason);
            assertTrue(crashingReports.awaitStopped(1));

            long before = healthy.heartbeats(0) + healthy.heartbeats(1);
            Thread.sleep(100);
            assertEquals(VirtualMachine.State.RUNNING, healthy.state());
            assertTrue(healthy.heartbeats(0) + healthy.heartbeats(1) > before, "the other VM stopped beating");
            assertTrue(healthyReports.crashes.isEmpty());
        }
    }

    @Test
    void aParkedVcpuStopsBeatingAndHotPlugBringsItAndNewOnesIn() throws Exception {
        ProbeReports reports = new ProbeReports(3);
        List<VcpuIdentity> all = VirtualMachineIdentityTest.boot(FOUR, VpIndexPolicy.SLOT_INDEX, 4);
        VmSpec spec = VmSpec.probe(8, FOUR, all.subList(0, 2), true, VpIndexProvider.USERSPACE_MSR);
        try (VirtualMachine vm = VirtualMachine.start(kvm, spec, reports)) {
            VcpuIdentity added = all.get(2);
            vm.hotplug(added);
            reports.awaitAllReported();
            GuestIdentity seen = reports.identities.get(added.cpuIndex());
            assertEquals(added.apicId(), seen.x2ApicIdLeafB());
            assertEquals(added.vpIndex(), seen.vpIndex());
            assertEquals(List.of(all.get(0), all.get(1), added), vm.pluggedVcpus());

            vm.park(added.apicId());
            long parkedAt = vm.heartbeats(added.cpuIndex());
            Thread.sleep(100);
            assertEquals(parkedAt, vm.heartbeats(added.cpuIndex()), "a parked vCPU ran");
            assertEquals(List.of(all.get(0), all.get(1)), vm.pluggedVcpus());
            assertThrows(IllegalStateException.class, () -> vm.hotplug(new VcpuIdentity(added.slot(),
                    added.cpuIndex(), added.apicId(), added.vpIndex() + 7)), "re-plug with another identity");

            vm.hotplug(added);
            Thread.sleep(100);
            assertTrue(vm.heartbeats(added.cpuIndex()) > parkedAt, "the re-plugged vCPU did not run");
            assertThrows(IllegalStateException.class, () -> vm.hotplug(added), "already plugged");
        }
    }

    private static long[] heartbeats(VirtualMachine vm, int count) {
        long[] beats = new long[count];
        for (int cpu = 0; cpu < count; cpu++) {
            beats[cpu] = vm.heartbeats(cpu);
        }
        return beats;
    }

    /** Every vCPU's heartbeat goes past where it was: waited for (a loaded machine may take a while), not slept on. */
    private static void awaitHeartbeatsGrowing(VirtualMachine vm, int count) throws InterruptedException {
        long[] first = heartbeats(vm, count);
        Heartbeats.awaitAtLeast(vm, java.util.Arrays.stream(first).max().orElse(0) + 1);
    }
}
