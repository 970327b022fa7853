package io.quarkvm.node;

import io.quarkvm.node.BootRecorder.Report;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Persists guest reports off the vCPU threads, batching those that arrive together into one transaction, and only
 * then tells the reconciler: a VM is RUNNING once what its guest saw is in the database, never before.
 */
final class ReportWriter {

    private static final Logger LOG = Logger.getLogger(ReportWriter.class);

    /** A report and what to do once it is committed. */
    record Pending(Report report, Runnable afterCommit) {
    }

    private final BootRecorder boots;
    private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
    private final Thread writer;
    private volatile boolean writing = true;

    ReportWriter(BootRecorder boots) {
        this.boots = boots;
        this.writer = new Thread(this::writeLoop, "guest-reports");
        this.writer.setDaemon(true);
        this.writer.start();
    }

    void submit(Report report, Runnable afterCommit) {
        queue.add(new Pending(report, afterCommit));
    }

    /** Writes what is queued, then ends. */
    void close() throws InterruptedException {
        writing = false;
        writer.join(TimeUnit.SECONDS.toMillis(10));
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
            queue.drainTo(batch);
            try {
                boots.recordReports(batch.stream().map(Pending::report).toList());
            } catch (RuntimeException e) {
                LOG.warnf("could not record %d guest reports: %s", batch.size(), e.getMessage());
            }
            batch.forEach(pending -> pending.afterCommit().run());
        }
    }
}
