package io.quarkvm.migration;

import static org.assertj.core.api.Assertions.assertThat;

import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.vmm.ProbeReports;
import io.quarkvm.vmm.VirtualMachine;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/** A migration inside this process, over a loopback TCP connection, as two nodes would run it. */
final class Loopback {

    static final UUID VM_ID = UUID.fromString("3d6f0e2a-9b8c-4d7e-a1f2-0c3b4a5d6e7f");
    private static final long WAIT_SECONDS = 60;

    private Loopback() {
    }

    /**
     * One hop.
     *
     * @param target        the VM on the target, running
     * @param downtimeNanos from the source's pause until the target could resume (it had everything), plus its resume
     * @param totalNanos    from the start of the transfer until the target resumed
     */
    record Hop(VirtualMachine target, OutgoingTransfer.Result result, List<OutgoingTransfer.RoundProgress> rounds,
               long downtimeNanos, long totalNanos, ProbeReports targetReports) {
    }

    static Hop migrate(VirtualMachine source, Hypervisor targetNode, IncomingTransfer.SpecResolver resolver,
                       OutgoingTransfer.Settings settings) throws Exception {
        return migrate(source, targetNode, resolver, settings, round -> { });
    }

    /**
     * Migrates {@code source} to a new VM on {@code targetNode} and checks the two are alike while both are paused:
     * every byte of memory, every heartbeat, the plugged vCPUs. Then resumes the target and stops the source.
     *
     * @param afterRound told after each pre-copy round, on the transfer's thread, before the next round
     */
    static Hop migrate(VirtualMachine source, Hypervisor targetNode, IncomingTransfer.SpecResolver resolver,
                       OutgoingTransfer.Settings settings, OutgoingTransfer.ProgressListener afterRound)
            throws Exception {
        ProbeReports targetReports = new ProbeReports(0);
        List<OutgoingTransfer.RoundProgress> rounds = new CopyOnWriteArrayList<>();
        List<OutgoingTransfer.RoundProgress> gateAsked = new CopyOnWriteArrayList<>();
        OutgoingTransfer.ProgressListener listener = round -> {
            rounds.add(round);
            afterRound.onRound(round);
        };
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            CompletableFuture<VirtualMachine> received = new CompletableFuture<>();
            long[] receivedAt = new long[1];
            Thread receiver = new Thread(() -> {
                try (Socket socket = server.accept()) {
                    VirtualMachine vm = IncomingTransfer.receive(socket.getInputStream(), resolver, targetNode,
                            targetReports, new StepTimes());
                    receivedAt[0] = System.nanoTime();
                    received.complete(vm);
                } catch (Throwable e) {
                    received.completeExceptionally(e);
                }
            }, "incoming-migration");
            receiver.start();
            long started = System.nanoTime();
            OutgoingTransfer.Result result;
            try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort())) {
                result = new OutgoingTransfer(source, UUID.randomUUID(), VM_ID, settings, listener, (lastRound, converged) -> {
                    gateAsked.add(lastRound);
                    return true;
                })
                        .run(socket.getOutputStream(), new StepTimes());
            }
            VirtualMachine target = received.get(WAIT_SECONDS, TimeUnit.SECONDS);
            assertThat(gateAsked).as("the gate is asked once, with the last round the listener saw")
                    .containsExactly(rounds.get(rounds.size() - 1));
            assertThat(rounds).as("only the last pre-copy round says the stop-and-copy comes next")
                    .extracting(OutgoingTransfer.RoundProgress::last).containsOnlyOnce(true).endsWith(true);
            receiver.join();
            assertThat(source.state()).isEqualTo(VirtualMachine.State.PAUSED);
            assertThat(target.state()).isEqualTo(VirtualMachine.State.PAUSED);
            assertThat(target.pluggedVcpus()).isEqualTo(source.pluggedVcpus());
            for (VcpuIdentity identity : source.pluggedVcpus()) {
                assertThat(target.heartbeats(identity.cpuIndex())).as("heartbeat of %s on the target", identity)
                        .isEqualTo(source.heartbeats(identity.cpuIndex()));
            }
            assertSameMemory(source, target);
            long resuming = System.nanoTime();
            target.resume();
            long resumed = System.nanoTime();
            source.stop();
            return new Hop(target, result, rounds, receivedAt[0] - result.pausedAtNanos() + (resumed - resuming),
                    resumed - started, targetReports);
        }
    }

    /** Every page of the paused source is on the paused target: what the dirty log missed would differ here. */
    static void assertSameMemory(VirtualMachine source, VirtualMachine target) {
        assertThat(target.memoryBytes()).isEqualTo(source.memoryBytes());
        byte[] expected = new byte[VirtualMachine.PAGE_SIZE];
        byte[] actual = new byte[VirtualMachine.PAGE_SIZE];
        for (long address = 0; address < source.memoryBytes(); address += VirtualMachine.PAGE_SIZE) {
            source.readMemory(address, expected);
            target.readMemory(address, actual);
            if (!Arrays.equals(expected, actual)) {
                throw new AssertionError("page " + address / VirtualMachine.PAGE_SIZE + " differs on the target");
            }
        }
    }

    static String describe(Hop hop) {
        return String.format("%d rounds (%s), %d bytes, %d pages in the last round, %.1f ms in all, downtime %d µs",
                hop.result().rounds(), hop.result().converged() ? "converged" : "round limit",
                hop.result().bytesSent(), hop.result().lastRoundPages(), hop.totalNanos() / 1e6,
                hop.downtimeNanos() / 1000);
    }
}
