package io.quarkvm.node;

import jakarta.enterprise.context.ApplicationScoped;

import java.time.Duration;

/**
 * Lets a request waiting for a VM's phase learn at once of every phase this node records. Waiters still re-read
 * the database, and poll it, since a VM's phase may be written by another node.
 */
@ApplicationScoped
public class PhaseChanges {

    /** Waiters re-read the database at least this often, for phases recorded by other nodes. */
    private static final long POLL_MILLIS = 100;

    private final Object monitor = new Object();
    private long changes;
    public void recorded() {
        synchronized (monitor) {
            changes++;
            monitor.notifyAll();
        }
    }

    public long count() {
        synchronized (monitor) {
            return changes;
        }
    }

    public void awaitChangeAfter(long seen, Duration atMost) {
        long waitMillis = Math.max(1, Math.min(atMost.toMillis(), POLL_MILLIS));
        synchronized (monitor) {
            if (changes == seen) {
                try {
                    monitor.wait(waitMillis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }
}
