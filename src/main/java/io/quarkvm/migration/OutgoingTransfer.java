package io.quarkvm.migration;

import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.vmm.VcpuState;
import io.quarkvm.vmm.VirtualMachine;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.BitSet;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CancellationException;

/**
 * The source's side of a migration (docs/MIGRATION.md, "Pre-copy"): copies a running VM into a
 * {@link MigrationStream} while it runs, then pauses it for the last dirty pages and the vCPU states.
 *
 * <p>Dirty logging starts first. Round 0 sends every page that is not all zero, reading only the pages the host has
 * populated ({@link VirtualMachine#populatedPages}: the others are zero); each later round sends the pages
 * written during the one before. After each round the time the stop-and-copy would take is estimated as the bytes
 * now dirty over the throughput the round measured; when that is at most {@link Settings#downtimeLimit}, or after
 * {@link Settings#maxRounds} rounds, the transfer asks the {@link StopAndCopyGate}, pauses the VM, sends the pages
 * dirty by then (a page that became zero as a flag only), every plugged vCPU's state and the end, and returns with
 * the VM paused: the caller resumes it (the handover failed) or discards it (the target runs it now).
 */
public final class OutgoingTransfer {

    /**
     * @param downtimeLimit the stop-and-copy time to aim for (the VM is paused that long, plus the target's answer)
     * @param maxRounds     pre-copy rounds, round 0 included, after which it stops and copies whatever the estimate
     */
    public record Settings(Duration downtimeLimit, int maxRounds) {
        public Settings {
            if (downtimeLimit.isNegative() || maxRounds < 1) {
                throw new IllegalArgumentException("the downtime limit must not be negative and at least one round "
                        + "is needed: " + downtimeLimit + ", " + maxRounds + " rounds");
            }
        }
    }

    /**
     * Where a pre-copy round left things.
     *
     * @param pagesSent     pages the round sent
     * @param bytesSent     bytes of the stream so far
     * @param dirtyPages    pages the guest wrote while the round was sent (the next round's)
     * @param dirtyRateMiBs how fast the guest wrote them: dirty bytes over the time since the previous count
     * @param last          the stop-and-copy comes next (the estimate reached the limit, or the round limit)
     */
    public record RoundProgress(int round, int pagesSent, long bytesSent, int dirtyPages, double dirtyRateMiBs,
                                boolean last) {
    }

    /**
     * Told after each pre-copy round, on the transfer's thread. If it throws, the transfer ends there with the VM
     * running: a {@link CancellationException} as it is (a cancel seen at the next round), anything else as a
     * {@link TransferFailedException}.
     */
    public interface ProgressListener {
        void onRound(RoundProgress progress);
    }

    /**
     * Asked once, just before the VM is paused, with the last pre-copy round's progress (which the listener has seen
     * too) and whether pre-copy converged (what is left fits the downtime limit) or the round limit ended it: false
     * cancels the transfer, the VM still running.
     */
    public interface StopAndCopyGate {
        boolean mayStopAndCopy(RoundProgress lastRound, boolean converged);
    }

    /**
     * A finished transfer: the target has everything.
     *
     * @param rounds         rounds sent, the stop-and-copy round included
     * @param pausedAtNanos  {@link System#nanoTime} when the VM was asked to pause: where the downtime starts
     * @param pausedAt       the same moment on this node's clock
     * @param lastRoundPages pages the stop-and-copy round sent
     * @param converged      the estimate reached the downtime limit (false: {@link Settings#maxRounds} ended it)
     */
    public record Result(int rounds, long bytesSent, long pausedAtNanos, Instant pausedAt, int lastRoundPages,
                         boolean converged) {
    }

    /** The transfer failed; the VM is as it was, except paused if {@link #pausedByTransfer} says so. */
    public static final class TransferFailedException extends IOException {
        private final boolean pausedByTransfer;

        TransferFailedException(String message, Throwable cause, boolean pausedByTransfer) {
            super(message + (pausedByTransfer ? " (the VM is paused)" : " (the VM runs)"), cause);
            this.pausedByTransfer = pausedByTransfer;
        }

        /** The transfer paused the VM before it failed: the caller resumes it once it knows the target will not. */
        public boolean pausedByTransfer() {
            return pausedByTransfer;
        }
    }

    private static final int PAGE_SIZE = VirtualMachine.PAGE_SIZE;

    private final VirtualMachine vm;
    private final UUID migrationId;
    private final UUID vmId;
    private final Settings settings;
    private final ProgressListener listener;
    private final StopAndCopyGate gate;

    public OutgoingTransfer(VirtualMachine vm, UUID migrationId, UUID vmId, Settings settings,
                            ProgressListener listener, StopAndCopyGate gate) {
        this.vm = vm;
        this.migrationId = migrationId;
        this.vmId = vmId;
        this.settings = settings;
        this.listener = listener;
        this.gate = gate;
    }

    /**
     * Runs the whole transfer into {@code out} (flushed, not closed), marking each step in {@code steps}.
     *
     * @throws CancellationException   the gate said no, or the listener cancelled: the VM runs
     * @throws TransferFailedException writing failed, the VM failed, or the listener did: nothing was resumed
     */
    public Result run(OutputStream out, StepTimes steps) throws IOException {
        boolean pausedByTransfer = false;
        vm.startDirtyLogging();
        try {
            MigrationStream.Writer writer = MigrationStream.writer(out);
            List<VcpuIdentity> plugged = vm.pluggedVcpus();
            writer.writeHeader(new MigrationStream.Header(migrationId, vmId, vm.memoryBytes(), plugged));
            steps.mark("start the dirty log");
            // Round 0: the pages the host has populated; any other is zero, and one the guest writes from now on is
            // in the dirty log, started above.
            BitSet pages = vm.populatedPages();
            steps.mark("populated pages");
            long countedAt = System.nanoTime();
            RoundProgress progress;
            boolean converged;
            int rounds = 0;
            do {
                long started = System.nanoTime();
                long bytesBefore = writer.bytesWritten();
                int sent = writer.writePages(pages, this::readPage, rounds == 0);
                writer.writeRoundEnd(false);
                long roundNanos = Math.max(1, System.nanoTime() - started);
                long roundBytes = writer.bytesWritten() - bytesBefore;
                steps.mark("round " + rounds + ": " + sent + " pages");
                pages = vm.collectDirtyPages();
                long dirtyBytes = (long) pages.cardinality() * PAGE_SIZE;
                long now = System.nanoTime();
                double dirtyRateMiBs = dirtyBytes / (double) (1 << 20) / Math.max(1, now - countedAt) * 1e9;
                countedAt = now;
                double estimatedNanos = dirtyBytes * (double) roundNanos / roundBytes;
                converged = estimatedNanos <= settings.downtimeLimit().toNanos();
                progress = new RoundProgress(rounds, sent, writer.bytesWritten(), pages.cardinality(), dirtyRateMiBs,
                        converged || rounds + 1 >= settings.maxRounds());
                listener.onRound(progress);
                steps.mark("dirty log, round recorded");
                rounds++;
            } while (!progress.last());
            if (!gate.mayStopAndCopy(progress, converged)) {
                throw new CancellationException("the migration was cancelled before the VM was paused");
            }
            steps.mark("STOP_AND_COPY recorded");
            pausedByTransfer = vm.state() == VirtualMachine.State.RUNNING;
            // From the pause request on: the guest may still run until each vCPU has seen it, never counted out.
            long pausedAt = System.nanoTime();
            Instant pausedAtInstant = Instant.now();
            List<VcpuState> states = vm.pauseAndCaptureVcpuStates();
            steps.mark("pause and capture vCPUs");
            if (!states.stream().map(VcpuState::identity).toList().equals(plugged)) {
                throw new IllegalStateException("the plugged vCPUs changed during the migration: " + plugged
                        + " when it began, " + states.stream().map(VcpuState::identity).toList() + " now");
            }
            pages.or(vm.collectDirtyPages());
            steps.mark("dirty log");
            int lastRoundPages = writer.writePages(pages, this::readPage, false);
            writer.writeRoundEnd(true);
            steps.mark("send " + lastRoundPages + " pages");
            for (VcpuState state : states) {
                writer.writeVcpu(state);
            }
            writer.writeEnd();
            steps.mark("send vCPUs");
            return new Result(rounds + 1, writer.bytesWritten(), pausedAt, pausedAtInstant, lastRoundPages, converged);
        } catch (CancellationException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new TransferFailedException("migration " + migrationId + " of VM " + vmId + " failed: " + e,
                    e, pausedByTransfer);
        } finally {
            vm.stopDirtyLogging();
        }
    }

    private void readPage(long number, byte[] into) {
        vm.readMemory(number * PAGE_SIZE, into);
    }
}
