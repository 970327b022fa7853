package io.quarkvm.node;

import jakarta.enterprise.context.ApplicationScoped;

import java.time.Duration;
import java.time.Instant;
import java.util.function.Predicate;
import java.util.function.Supplier;

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

    /**
     * Reads (each read its own transaction, none held while waiting) until what was read is {@code done} or
     * {@code wait} has passed, reading again at each phase this node records and at least every 100 ms; returns the
     * last read.
     */
    public <T> T awaitUntil(Supplier<T> read, Predicate<T> done, Duration wait) {
        Instant deadline = Instant.now().plus(wait);
        while (true) {
            long observedChanges = count();
            T current = read.get();
            Duration left = Duration.between(Instant.now(), deadline);
            if (done.test(current) || left.isNegative() || left.isZero()) {
                return current;
            }
            awaitChangeAfter(observedChanges, left);
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
