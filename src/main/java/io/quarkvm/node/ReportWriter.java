package io.quarkvm.node;

import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkvm.node.BootRecorder.Report;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Persists guest reports off the vCPU threads, batching those that arrive together into one transaction. The
 * report that completes a boot is committed in the same transaction as what the reconciler records for it (the
 * VM is RUNNING), so a VM is RUNNING once what its guest saw is in the database, never before. A batch the database
 * refuses (it is down, say) is kept and written again, with whatever arrived meanwhile, until it commits; a boot
 * counts its reports only once they are committed.
 */
final class ReportWriter {

    private static final Logger LOG = Logger.getLogger(ReportWriter.class);
    private static final long LINGER_MICROS = 1500;
    private static final Duration FIRST_RETRY_DELAY = Duration.ofMillis(100);
    private static final Duration LONGEST_RETRY_DELAY = Duration.ofSeconds(2);
    /** Attempts left for what is still unwritten once the node shuts down. */
    private static final int ATTEMPTS_AFTER_CLOSE = 3;

    /** What the reconciler does when a boot's last vCPU has reported. */
    interface BootUp {
        /** Within the transaction that records the report (it may run again if that transaction fails). */
        void recordUp(LocalVm vm);

        /** Once that transaction has committed. */
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
        vm.reportSubmitted();
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
        List<Pending> batch = new ArrayList<>();
        Duration retryDelay = FIRST_RETRY_DELAY;
        int attemptsAfterClose = ATTEMPTS_AFTER_CLOSE;
        while (writing || !queue.isEmpty() || !batch.isEmpty()) {
            try {
                if (batch.isEmpty()) {
                    Pending first = queue.poll(200, TimeUnit.MILLISECONDS);
                    if (first == null) {
                        continue;
                    }
                    batch.add(first);
                    lingerForMore(batch);
                } else {
                    queue.drainTo(batch);
                }
            } catch (InterruptedException e) {
                return;
            }
            try {
                write(batch);
                batch.clear();
                retryDelay = FIRST_RETRY_DELAY;
            } catch (RuntimeException e) {
                if (!writing && --attemptsAfterClose <= 0) {
                    LOG.errorf("gave up %d guest reports at shutdown: %s", batch.size(), e.getMessage());
                    batch.forEach(pending -> pending.vm().reportsGivenUp(1));
                    batch.clear();
                    continue;
                }
                LOG.warnf("could not record %d guest reports (trying again in %d ms): %s", batch.size(),
                        retryDelay.toMillis(), e.getMessage());
                try {
                    Thread.sleep(retryDelay.toMillis());
                } catch (InterruptedException interrupted) {
                    return;
                }
                retryDelay = retryDelay.multipliedBy(2).compareTo(LONGEST_RETRY_DELAY) > 0
                        ? LONGEST_RETRY_DELAY : retryDelay.multipliedBy(2);
            }
        }
    }

    /** One transaction; the boots learn of their reports only once it has committed. */
    private void write(List<Pending> batch) {
        Map<LocalVm, Integer> reportsPerVm = new LinkedHashMap<>();
        batch.forEach(pending -> reportsPerVm.merge(pending.vm(), 1, Integer::sum));
        List<LocalVm> up = new ArrayList<>();
        QuarkusTransaction.requiringNew().run(() -> {
            up.clear();
            boots.recordReports(batch.stream().map(Pending::report).toList());
            reportsPerVm.forEach((vm, reports) -> {
                if (vm.completedBy(reports)) {
                    up.add(vm);
                    bootUp.recordUp(vm);
                }
            });
        });
        reportsPerVm.forEach(LocalVm::reportsCommitted);
        up.forEach(bootUp::afterUp);
    }
}
