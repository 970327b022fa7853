package io.quarkvm.vmm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.quarkvm.domain.Topology;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VpIndexPolicy;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.emulated.TestHypervisors;
import io.quarkvm.kvm.Hypervisor;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What a migration asks of a VM on either side: the dirty log of a running guest, the vCPU states of a paused one,
 * and an incoming VM that holds still, never run, while its memory and states arrive, and takes only the states of
 * exactly its plugged vCPUs.
 */
class VmIncomingTest {

    private static final Topology TWO = new Topology(1, 1, 2, 1);
    private static final List<VcpuIdentity> IDENTITIES =
            VirtualMachineIdentityTest.boot(TWO, VpIndexPolicy.SLOT_INDEX, 2);
    private static final VmSpec SPEC = VmSpec.probe(8, TWO, IDENTITIES, true, VpIndexProvider.USERSPACE_MSR);
    private static final int PAGE = VirtualMachine.PAGE_SIZE;
    /** The page holding every vCPU's probe record, which the probe writes on each turn. */
    private static final int RECORD_PAGE = (int) (GuestLayout.RECORDS / PAGE);

    @Test
    void theDirtyLogHasThePagesTheRunningGuestWritesAndNoneWhileItIsPaused() throws Exception {
        try (Hypervisor node = TestHypervisors.open();
             VirtualMachine vm = VirtualMachine.start(node, SPEC, VmListener.NONE)) {
            assertThatThrownBy(vm::collectDirtyPages).isInstanceOf(IllegalArgumentException.class);

            vm.startDirtyLogging();
            Heartbeats.awaitAtLeast(vm, vm.heartbeats(0) + 100);
            BitSet written = vm.collectDirtyPages();
            assertThat(written.get(RECORD_PAGE)).as("the probe records' page, written on every turn").isTrue();
            assertThat((long) written.cardinality()).isLessThan(vm.memoryBytes() / PAGE / 10);

            vm.pause();
            vm.collectDirtyPages();
            long beats = vm.heartbeats(0);
            assertThat(vm.collectDirtyPages().isEmpty()).as("nothing written while paused").isTrue();
            assertThat(vm.pauseAndCaptureVcpuStates()).extracting(VcpuState::identity).containsExactlyElementsOf(IDENTITIES);

            vm.resume();
            Heartbeats.awaitAtLeast(vm, beats + 100);
            assertThat(vm.collectDirtyPages().get(RECORD_PAGE)).isTrue();
            vm.stopDirtyLogging();
            assertThatThrownBy(vm::collectDirtyPages).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void anIncomingVmNeverRunsUntilItHasTheStatesOfExactlyItsPluggedVcpus() throws Exception {
        try (Hypervisor source = TestHypervisors.open(); Hypervisor target = TestHypervisors.open()) {
            ProbeReports sourceReports = new ProbeReports(IDENTITIES.size());
            List<VcpuState> states;
            List<Long> pagesWritten = new ArrayList<>();
            ProbeReports targetReports = new ProbeReports(0);
            long beats;
            try (VirtualMachine vm = VirtualMachine.start(source, SPEC, sourceReports);
                 VirtualMachine incoming = VirtualMachine.prepareIncoming(target, SPEC, targetReports)) {
                sourceReports.awaitAllReported();
                states = vm.pauseAndCaptureVcpuStates();
                assertThat(vm.state()).isEqualTo(VirtualMachine.State.PAUSED);
                beats = vm.heartbeats(1);

                assertThat(incoming.state()).isEqualTo(VirtualMachine.State.PAUSED);
                assertThat(incoming.pluggedVcpus()).containsExactlyElementsOf(IDENTITIES);
                byte[] page = new byte[PAGE];
                incoming.readMemory(GuestLayout.CODE, page);
                assertThat(page).as("an incoming VM's memory starts all zero").containsOnly(0);
                assertThatThrownBy(incoming::resume).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("have not received their states");

                for (long address = 0; address < vm.memoryBytes(); address += PAGE) {
                    vm.readMemory(address, page);
                    if (!StateSections.isZero(page)) {
                        incoming.writeMemory(address, page, 0, PAGE);
                        pagesWritten.add(address / PAGE);
                    }
                }
                incoming.zeroPage(vm.memoryBytes() / PAGE - 1);
                assertThatThrownBy(() -> incoming.zeroPage(vm.memoryBytes() / PAGE))
                        .isInstanceOf(IllegalArgumentException.class);
                assertThatThrownBy(() -> incoming.writeMemory(vm.memoryBytes() - 8, page, 0, 16))
                        .isInstanceOf(IllegalArgumentException.class);

                assertThatThrownBy(() -> incoming.completeIncoming(states.subList(0, 1)))
                        .isInstanceOf(IdentityMismatchException.class);
                VcpuState first = states.get(0);
                VcpuIdentity other = new VcpuIdentity(first.identity().slot(), first.identity().cpuIndex(),
                        first.identity().apicId(), first.identity().vpIndex() + 5);
                assertThatThrownBy(() -> incoming.completeIncoming(List.of(new VcpuState(other, first.regs(),
                        first.sregs(), first.fpu(), first.xsave(), first.xcrs(), first.events(), first.msrs(),
                        first.mpState(), first.tscKhz()), states.get(1))))
                        .isInstanceOf(IdentityMismatchException.class);
                assertThatThrownBy(() -> incoming.completeIncoming(List.of(first, first)))
                        .isInstanceOf(IdentityMismatchException.class);
                List<VcpuState> reversed = new ArrayList<>(states);
                Collections.reverse(reversed);
                incoming.completeIncoming(reversed);
                assertThat(incoming.heartbeats(1)).isEqualTo(beats);
                vm.stop();

                incoming.resume();
                Heartbeats.awaitAtLeast(incoming, beats + 100);
                assertThatThrownBy(() -> incoming.writeMemory(0, page, 0, PAGE))
                        .isInstanceOf(IllegalStateException.class).hasMessageContaining("the guest has run");
                assertThatThrownBy(() -> incoming.zeroPage(0)).isInstanceOf(IllegalStateException.class);
                for (VcpuIdentity identity : IDENTITIES) {
                    assertThat(incoming.probeRecord(identity.cpuIndex()).violations()).isZero();
                }
            }
            assertThat(pagesWritten).as("the probe's boot structures, code, records and stacks").isNotEmpty();
            assertThat(targetReports.identities).as("the probe did not boot again on the incoming VM").isEmpty();
            assertThat(targetReports.crashes).isEmpty();
        }
    }
}
