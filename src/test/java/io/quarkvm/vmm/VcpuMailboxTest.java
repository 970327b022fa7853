package io.quarkvm.vmm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.quarkvm.domain.Topology;
import io.quarkvm.domain.VpIndexPolicy;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.emulated.TestHypervisors;
import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.kvm.KvmRegs;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Work posted to a vCPU's own thread ({@link VirtualMachine#onVcpuThread}) while its guest spins without ever
 * leaving the guest by itself (the busy probe, no Hyper-V): only the mailbox's kick can get the thread to it.
 */
class VcpuMailboxTest {

    private static final Topology TWO = new Topology(1, 1, 2, 1);
    private static final long WAIT_SECONDS = 5;
    private static Hypervisor hypervisor;

    @BeforeAll
    static void openHypervisor() {
        hypervisor = TestHypervisors.shared();
    }

    private static VirtualMachine spinning(ProbeReports reports) throws InterruptedException {
        VmSpec spec = new VmSpec(8, TWO, VirtualMachineIdentityTest.boot(TWO, VpIndexPolicy.SLOT_INDEX, 2), false,
                VpIndexProvider.USERSPACE_MSR, GuestProgram.busyProbe());
        VirtualMachine vm = VirtualMachine.start(hypervisor, spec, reports);
        reports.awaitAllReported();
        return vm;
    }

    private record Seen(Thread thread, KvmRegs regs) {
    }

    @Test
    void aTaskRunsOnTheVcpusOwnThreadWhileTheGuestRunsAndTheGuestCarriesOn() throws Exception {
        ProbeReports reports = new ProbeReports(2);
        try (VirtualMachine vm = spinning(reports)) {
            long kicksBefore = vm.counters(1).kicksTaken();

            Seen first = vm.onVcpuThread(1, vcpu -> new Seen(Thread.currentThread(), vcpu.getRegs()))
                    .get(WAIT_SECONDS, TimeUnit.SECONDS);
            Seen again = vm.onVcpuThread(1, vcpu -> new Seen(Thread.currentThread(), vcpu.getRegs()))
                    .get(WAIT_SECONDS, TimeUnit.SECONDS);
            Seen other = vm.onVcpuThread(0, vcpu -> new Seen(Thread.currentThread(), vcpu.getRegs()))
                    .get(WAIT_SECONDS, TimeUnit.SECONDS);

            assertThat(VcpuRunner.isVcpuThread(first.thread())).as(first.thread().getName()).isTrue();
            assertThat(first.thread().getName()).isEqualTo("vcpu-" + vm.name() + "-apic1");
            assertThat(again.thread()).as("every task of a vCPU on the one thread that owns it").isSameAs(first.thread());
            assertThat(other.thread()).isNotSameAs(first.thread());
            assertThat(first.regs().rip).as("the task saw the guest where it was running")
                    .isBetween(GuestLayout.CODE, GuestLayout.CODE + GuestLayout.CODE_MAX_SIZE);
            assertThat(first.regs().rsp).as("the registers are those of cpu_index 1: RSP in its stack")
                    .isBetween(GuestLayout.stackTopOf(1) - GuestLayout.STACK_SIZE, GuestLayout.stackTopOf(1));
            assertThat(other.regs().rsp).as("and cpu_index 0's in its own")
                    .isBetween(GuestLayout.stackTopOf(0) - GuestLayout.STACK_SIZE, GuestLayout.stackTopOf(0));
            assertThat(vm.counters(1).kicksTaken()).as("the tasks were let in by kicks out of the guest")
                    .isGreaterThan(kicksBefore);
            // Not asserted right after the tasks: on a loaded host three short tasks may come and go before the guest's
            // next heartbeat. That it carries on is what counts.
            awaitHeartbeatsGrowing(vm, 1);
            assertThat(vm.state()).isEqualTo(VirtualMachine.State.RUNNING);
        }
    }

    @Test
    void aTaskThatThrowsFailsItsOutcomeAndTheVcpuCarriesOn() throws Exception {
        ProbeReports reports = new ProbeReports(2);
        try (VirtualMachine vm = spinning(reports)) {
            CompletableFuture<Object> failing = vm.onVcpuThread(0, vcpu -> {
                throw new IllegalArgumentException("the task's own failure");
            });
            assertThatThrownBy(() -> failing.get(WAIT_SECONDS, TimeUnit.SECONDS))
                    .isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOf(IllegalArgumentException.class).hasMessage("the task's own failure");

            awaitHeartbeatsGrowing(vm, 0);
            assertThat(vm.state()).isEqualTo(VirtualMachine.State.RUNNING);
            assertThat(reports.crashes).isEmpty();
            assertThat(vm.onVcpuThread(0, vcpu -> vcpu.apicId()).get(WAIT_SECONDS, TimeUnit.SECONDS)).isEqualTo(0);
        }
    }

    @Test
    void aPausedVcpuRunsATaskAndStaysPaused() throws Exception {
        ProbeReports reports = new ProbeReports(2);
        try (VirtualMachine vm = spinning(reports)) {
            vm.pause();
            long paused = vm.heartbeats(0);
            Thread ran = vm.onVcpuThread(0, vcpu -> Thread.currentThread()).get(WAIT_SECONDS, TimeUnit.SECONDS);
            assertThat(ran.getName()).isEqualTo("vcpu-" + vm.name() + "-apic0");
            Thread.sleep(100);
            assertThat(vm.heartbeats(0)).as("the guest did not run for the task").isEqualTo(paused);
            assertThat(vm.state()).isEqualTo(VirtualMachine.State.PAUSED);
            vm.resume();
            awaitHeartbeatsGrowing(vm, 0);
        }
    }

    @Test
    void tasksPostedToAStoppedVmFailAtOnce() throws Exception {
        ProbeReports reports = new ProbeReports(2);
        VirtualMachine vm = spinning(reports);
        vm.stop();
        CompletableFuture<Integer> refused = vm.onVcpuThread(0, vcpu -> vcpu.apicId());
        assertThat(refused).as("failed before anything could run it").isCompletedExceptionally();
        assertThatThrownBy(refused::join).hasCauseInstanceOf(IllegalStateException.class)
                .hasMessageContaining("STOPPED");
        assertThat(vm.onVcpuThread(7, vcpu -> 0)).isCompletedExceptionally();
    }

    private static void awaitHeartbeatsGrowing(VirtualMachine vm, int cpuIndex) throws InterruptedException {
        long before = vm.heartbeats(cpuIndex);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (vm.heartbeats(cpuIndex) == before) {
            assertThat(System.nanoTime()).as("heartbeats of cpu_index %d grow", cpuIndex).isLessThan(deadline);
            Thread.sleep(5);
        }
    }
}
