package io.quarkvm.node;

import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkvm.node.BootRecorder.Report;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Persists guest reports off the vCPU threads, batching those that arrive together into one transaction. The
 * report that completes a boot is committed in the same transaction as what the reconciler records for it (the
 * VM is RUNNING), so a VM is RUNNING once what its guest saw is in the database, never before.
 */
final class ReportWriter {

    private static final Logger LOG = Logger.getLogger(ReportWriter.class);
    private static final long LINGER_MICROS = 1500;

    /** What the reconciler does when a boot's last vCPU has reported. */
    interface BootUp {
        /** Within the transaction that records the report. */
        void recordUp(LocalVm vm);

        /** Once that transaction has committed (or failed: then the reconciler's own check takes over). */
        void afterUp(LocalVm vm);
    }

    private record Pending(Report report, LocalVm vm) {
    }

    private final BootRecorder boots;
    private final BootUp bootUp;
    private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
    private final Thread writer;
    private volatile boolean writing = true;

    ReportWriter(BootRecorder boots, BootUp bootUp) {
        this.boots = boots;
        this.bootUp = bootUp;
        this.writer = new Thread(this::writeLoop, "guest-reports");
        this.writer.setDaemon(true);
        this.writer.start();
    }

    void submit(Report report, LocalVm vm) {
        queue.add(new Pending(report, vm));
    }

    /** Writes what is queued, then ends. */
    void close() throws InterruptedException {
        writing = false;
        writer.join(TimeUnit.SECONDS.toMillis(10));
    }

    /**
     * A boot's vCPUs report within a millisecond or so of each other: waiting that long for the next report makes
     * one transaction of them, instead of one per report, each a round trip to the database.
     */
    private void lingerForMore(List<Pending> batch) throws InterruptedException {
        for (Pending next = queue.poll(LINGER_MICROS, TimeUnit.MICROSECONDS); next != null;
             next = queue.poll(LINGER_MICROS, TimeUnit.MICROSECONDS)) {
            batch.add(next);
            queue.drainTo(batch);
        }
    }

    private void writeLoop() {
        while (writing || !queue.isEmpty()) {
            List<Pending> batch = new ArrayList<>();
            try {
                Pending first = queue.poll(200, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
            } catch (InterruptedException e) {
                return;
            }
            try {
                lingerForMore(batch);
            } catch (InterruptedException e) {
                return;
            }
            List<LocalVm> up = new ArrayList<>();
            try {
                QuarkusTransaction.requiringNew().run(() -> {
                    up.clear();
                    boots.recordReports(batch.stream().map(Pending::report).toList());
                    for (Pending pending : batch) {
                        if (pending.vm().bootVcpuReported()) {
                            up.add(pending.vm());
                            bootUp.recordUp(pending.vm());
                        }
                    }
                });
            } catch (RuntimeException e) {
                LOG.warnf("could not record %d guest reports: %s", batch.size(), e.getMessage());
            }
            up.forEach(bootUp::afterUp);
        }
    }
}
