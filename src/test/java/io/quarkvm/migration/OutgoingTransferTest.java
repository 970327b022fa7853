package io.quarkvm.migration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.quarkvm.domain.Topology;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VpIndexPolicy;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.emulated.TestHypervisors;
import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.vmm.Heartbeats;
import io.quarkvm.vmm.ProbeReports;
import io.quarkvm.vmm.VirtualMachine;
import io.quarkvm.vmm.VmSpec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import org.junit.jupiter.api.Test;

/**
 * The source's side when a migration does not go through: a cancel leaves the VM running; a broken connection leaves
 * it as it was, paused only if the transfer had paused it, and says which.
 */
class OutgoingTransferTest {

    private static final Topology ONE = new Topology(1, 1, 1, 1);
    private static final List<VcpuIdentity> IDENTITIES =
            List.of(VcpuIdentity.assign(ONE, VpIndexPolicy.SLOT_INDEX, ONE.slotAt(0), 0));
    private static final VmSpec SPEC = VmSpec.probe(8, ONE, IDENTITIES, true, VpIndexProvider.USERSPACE_MSR);
    private static final OutgoingTransfer.Settings SETTINGS =
            new OutgoingTransfer.Settings(Duration.ofMillis(50), 30);

    @Test
    void aCancelBeforeThePauseOrAtARoundLeavesTheVmRunning() throws Exception {
        try (Hypervisor node = TestHypervisors.open();
             VirtualMachine vm = VirtualMachine.start(node, SPEC, new ProbeReports(0))) {
            Heartbeats.awaitAtLeast(vm, 2);
            OutgoingTransfer refused = transfer(vm, round -> { }, (lastRound, converged) -> false);
            assertThatThrownBy(() -> refused.run(new ByteArrayOutputStream(), new StepTimes()))
                    .isInstanceOf(CancellationException.class);
            assertRunsWithoutDirtyLog(vm);

            OutgoingTransfer cancelledAtRound = transfer(vm, round -> {
                throw new CancellationException("cancelled by the user");
            }, (lastRound, converged) -> true);
            assertThatThrownBy(() -> cancelledAtRound.run(new ByteArrayOutputStream(), new StepTimes()))
                    .isInstanceOf(CancellationException.class).hasMessage("cancelled by the user");
            assertRunsWithoutDirtyLog(vm);
        }
    }

    @Test
    void aConnectionLostDuringPreCopyLeavesTheVmRunning() throws Exception {
        try (Hypervisor node = TestHypervisors.open();
             VirtualMachine vm = VirtualMachine.start(node, SPEC, new ProbeReports(0))) {
            Heartbeats.awaitAtLeast(vm, 2);
            assertThatThrownBy(() -> transfer(vm, round -> { }, (lastRound, converged) -> true).run(new Connection(true), new StepTimes()))
                    .isInstanceOfSatisfying(OutgoingTransfer.TransferFailedException.class,
                            failed -> assertThat(failed.pausedByTransfer()).isFalse())
                    .hasMessageContaining("connection reset").hasMessageEndingWith("(the VM runs)");
            assertRunsWithoutDirtyLog(vm);
        }
    }

    @Test
    void aConnectionLostAfterThePauseLeavesTheVmPausedAndSaysSo() throws Exception {
        try (Hypervisor node = TestHypervisors.open();
             VirtualMachine vm = VirtualMachine.start(node, SPEC, new ProbeReports(0))) {
            Heartbeats.awaitAtLeast(vm, 2);
            Connection connection = new Connection(false);
            OutgoingTransfer transfer = transfer(vm, round -> { }, (lastRound, converged) -> {
                connection.broken = true; // what is flushed from now on, the stop-and-copy round, is lost
                return true;
            });
            assertThatThrownBy(() -> transfer.run(connection, new StepTimes()))
                    .isInstanceOfSatisfying(OutgoingTransfer.TransferFailedException.class,
                            failed -> assertThat(failed.pausedByTransfer()).isTrue())
                    .hasMessageEndingWith("(the VM is paused)");
            assertThat(vm.state()).as("only the caller may resume it, once it knows the target will not run it")
                    .isEqualTo(VirtualMachine.State.PAUSED);
            vm.resume();
            assertRunsWithoutDirtyLog(vm);
        }
    }

    private static OutgoingTransfer transfer(VirtualMachine vm, OutgoingTransfer.ProgressListener listener,
                                             OutgoingTransfer.StopAndCopyGate gate) {
        return new OutgoingTransfer(vm, UUID.randomUUID(), Loopback.VM_ID, SETTINGS, listener, gate);
    }

    private static void assertRunsWithoutDirtyLog(VirtualMachine vm) throws InterruptedException {
        assertThat(vm.state()).isEqualTo(VirtualMachine.State.RUNNING);
        assertThatThrownBy(vm::collectDirtyPages).as("the dirty log ended with the transfer")
                .isInstanceOf(IllegalArgumentException.class);
        Heartbeats.awaitAtLeast(vm, Heartbeats.slowest(vm) + 2);
    }

    /** A connection that takes what is written until it breaks, and then fails every write. */
    private static final class Connection extends OutputStream {
        volatile boolean broken;

        Connection(boolean broken) {
            this.broken = broken;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] bytes, int offset, int length) throws IOException {
            if (broken) {
                throw new IOException("connection reset");
            }
        }
    }
}
