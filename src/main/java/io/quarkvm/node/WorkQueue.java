package io.quarkvm.node;

import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A work queue keyed by what is worked on, as Kubernetes controller-runtime has it (STYLE.md, "The node's
 * controller"): a key is never worked on by two workers at once, while different keys are worked on in parallel by
 * a small fixed set of workers; a key enqueued while it is waiting counts once, and one enqueued while it is being
 * worked on is worked on once more after that. Work that fails is retried after a back-off that doubles with every
 * failure of that key in a row.
 */
final class WorkQueue<K> {

    /** Works on one key: says when to look at it again, if at all. */
    @FunctionalInterface
    interface Work<K> {
        /** @return when to look at the key again without being asked ({@link Duration#ZERO}: not unless asked) */
        Duration workOn(K key) throws Exception;
    }

    private static final Logger LOG = Logger.getLogger(WorkQueue.class);

    private final Work<K> work;
    private final Duration firstRetryDelay;
    private final Duration longestRetryDelay;
    private final List<Thread> workers = new ArrayList<>();
    private final ScheduledExecutorService delays;

    private final Object lock = new Object();
    /** Guarded by lock: keys waiting for a worker, in the order they were asked for. */
    private final ArrayDeque<K> waiting = new ArrayDeque<>();
    /** Guarded by lock: keys asked for and not yet taken up (each is in waiting, or being worked on). */
    private final Set<K> dirty = new HashSet<>();
    /** Guarded by lock: keys a worker holds now. */
    private final Set<K> inProgress = new HashSet<>();
    /** Guarded by lock: failures in a row, by key. */
    private final Map<K, Integer> failures = new HashMap<>();
    /** Guarded by lock. */
    private boolean shutDown;

    WorkQueue(String name, int workerCount, Duration firstRetryDelay, Duration longestRetryDelay, Work<K> work) {
        if (workerCount < 1) {
            throw new IllegalArgumentException("a work queue needs at least one worker, not " + workerCount);
        }
        this.work = work;
        this.firstRetryDelay = firstRetryDelay;
        this.longestRetryDelay = longestRetryDelay;
        this.delays = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, name + "-delays"));
        for (int i = 0; i < workerCount; i++) {
            Thread worker = daemon(this::workLoop, name + "-" + i);
            workers.add(worker);
            worker.start();
        }
    }

    private static Thread daemon(Runnable body, String name) {
        Thread thread = new Thread(body, name);
        thread.setDaemon(true);
        return thread;
    }

    /** Asks for the key to be worked on: at once if it is not already waiting (or, if in progress, once it is done). */
    void enqueue(K key) {
        synchronized (lock) {
            if (shutDown || !dirty.add(key)) {
                return;
            }
            if (!inProgress.contains(key)) {
                waiting.add(key);
                lock.notify();
            }
        }
    }

    /** Asks for the key to be worked on once {@code delay} has passed. */
    void enqueueAfter(K key, Duration delay) {
        if (delay.isZero() || delay.isNegative()) {
            enqueue(key);
            return;
        }
        synchronized (lock) {
            if (shutDown) {
                return;
            }
            delays.schedule(() -> enqueue(key), delay.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /** The delay before the next retry of a key that has failed this many times in a row. */
    Duration retryDelay(int failuresInARow) {
        Duration delay = firstRetryDelay.multipliedBy(1L << Math.min(failuresInARow - 1, 20));
        return delay.compareTo(longestRetryDelay) > 0 ? longestRetryDelay : delay;
    }

    /**
     * Takes no more keys and waits, up to {@code atMost}, for the workers to finish what they hold.
     *
     * @return whether every worker ended in time
     */
    boolean shutDown(Duration atMost) throws InterruptedException {
        synchronized (lock) {
            shutDown = true;
            waiting.clear();
            dirty.clear();
            lock.notifyAll();
        }
        delays.shutdownNow();
        long deadline = System.nanoTime() + atMost.toNanos();
        for (Thread worker : workers) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left > 0) {
                worker.join(left);
            }
        }
        return workers.stream().noneMatch(Thread::isAlive);
    }

    private void workLoop() {
        while (true) {
            K key;
            synchronized (lock) {
                while (waiting.isEmpty() && !shutDown) {
                    try {
                        lock.wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (shutDown) {
                    return;
                }
                key = waiting.poll();
                dirty.remove(key);
                inProgress.add(key);
            }
            Duration again = Duration.ZERO;
            boolean failed = false;
            try {
                again = work.workOn(key);
            } catch (Exception | Error e) {
                failed = true;
                LOG.debugf(e, "work on %s failed", key);
            }
            done(key, failed, again);
        }
    }

    private void done(K key, boolean failed, Duration again) {
        Duration retry = null;
        synchronized (lock) {
            inProgress.remove(key);
            if (failed) {
                int inARow = failures.merge(key, 1, Integer::sum);
                retry = retryDelay(inARow);
            } else {
                failures.remove(key);
            }
            if (dirty.contains(key) && !shutDown) {
                waiting.add(key);
                lock.notify();
            }
        }
        if (retry != null) {
            enqueueAfter(key, retry);
        } else if (again != null && !again.isZero()) {
            enqueueAfter(key, again);
        }
    }
}
