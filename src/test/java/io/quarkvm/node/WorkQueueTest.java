package io.quarkvm.node;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

class WorkQueueTest {

    private WorkQueue<String> queue;

    @AfterEach
    void shutDown() throws InterruptedException {
        if (queue != null) {
            queue.shutDown(Duration.ofSeconds(5));
        }
    }

    @Test
    void aKeyWhoseWorkBlocksDoesNotDelayAnother() throws InterruptedException {
        CountDownLatch stuckStarted = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch otherDone = new CountDownLatch(1);
        queue = new WorkQueue<>("test", 2, Duration.ofMillis(10), Duration.ofSeconds(1), key -> {
            if (key.equals("stuck")) {
                stuckStarted.countDown();
                release.await();
            } else {
                otherDone.countDown();
            }
            return Duration.ZERO;
        });
        queue.enqueue("stuck");
        assertThat(stuckStarted.await(5, TimeUnit.SECONDS)).isTrue();
        queue.enqueue("other");
        assertThat(otherDone.await(5, TimeUnit.SECONDS)).as("the other key is worked on while the first is stuck").isTrue();
        release.countDown();
    }

    @Test
    void aKeyIsNeverWorkedOnByTwoWorkersAtOnce() throws InterruptedException {
        int keys = 3;
        Map<String, AtomicInteger> now = new ConcurrentHashMap<>();
        Map<String, AtomicInteger> most = new ConcurrentHashMap<>();
        AtomicInteger keysAtOnce = new AtomicInteger();
        AtomicInteger mostKeysAtOnce = new AtomicInteger();
        AtomicInteger worked = new AtomicInteger();
        queue = new WorkQueue<>("test", 4, Duration.ofMillis(10), Duration.ofSeconds(1), key -> {
            int at = now.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
            most.computeIfAbsent(key, k -> new AtomicInteger()).accumulateAndGet(at, Math::max);
            mostKeysAtOnce.accumulateAndGet(keysAtOnce.incrementAndGet(), Math::max);
            Thread.sleep(1);
            keysAtOnce.decrementAndGet();
            now.get(key).decrementAndGet();
            worked.incrementAndGet();
            return Duration.ZERO;
        });
        List<Thread> hammers = new ArrayList<>();
        CountDownLatch go = new CountDownLatch(1);
        for (int t = 0; t < 8; t++) {
            Thread hammer = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < 2000; i++) {
                    queue.enqueue("vm-" + i % keys);
                }
            });
            hammer.start();
            hammers.add(hammer);
        }
        go.countDown();
        for (Thread hammer : hammers) {
            hammer.join();
        }
        awaitQuiet(worked);
        assertThat(most).hasSize(keys);
        assertThat(most.values()).allSatisfy(max -> assertThat(max.get()).as("workers on one key at once").isEqualTo(1));
        assertThat(mostKeysAtOnce.get()).as("different keys were worked on in parallel").isGreaterThan(1);
        assertThat(worked.get()).as("16000 enqueues of 3 keys were folded together").isLessThan(16_000);
    }

    @Test
    void aKeyEnqueuedWhileInProgressRunsExactlyOnceMore() throws InterruptedException {
        CountDownLatch firstStarted = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger runs = new AtomicInteger();
        queue = new WorkQueue<>("test", 4, Duration.ofMillis(10), Duration.ofSeconds(1), key -> {
            if (runs.incrementAndGet() == 1) {
                firstStarted.countDown();
                release.await();
            }
            return Duration.ZERO;
        });
        queue.enqueue("vm");
        assertThat(firstStarted.await(5, TimeUnit.SECONDS)).isTrue();
        for (int i = 0; i < 100; i++) {
            queue.enqueue("vm");
        }
        Thread.sleep(100);
        assertThat(runs.get()).as("not run again while in progress, though workers are free").isEqualTo(1);
        release.countDown();
        awaitQuiet(runs);
        assertThat(runs.get()).isEqualTo(2);
    }

    @Test
    void failuresAreRetriedAfterABackOffThatDoublesAndResetsOnSuccess() throws InterruptedException {
        List<Long> attempts = new CopyOnWriteArrayList<>();
        queue = new WorkQueue<>("test", 1, Duration.ofMillis(100), Duration.ofMillis(400), key -> {
            attempts.add(System.nanoTime());
            if (attempts.size() <= 4) {
                throw new IllegalStateException("failure " + attempts.size());
            }
            return Duration.ZERO;
        });
        queue.enqueue("vm");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (attempts.size() < 5 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(attempts).hasSize(5);
        List<Long> gaps = new ArrayList<>();
        for (int i = 1; i < attempts.size(); i++) {
            gaps.add(TimeUnit.NANOSECONDS.toMillis(attempts.get(i) - attempts.get(i - 1)));
        }
        assertThat(gaps.get(0)).isBetween(100L, 199L);
        assertThat(gaps.get(1)).as("doubled").isBetween(200L, 399L);
        assertThat(gaps.get(2)).as("doubled up to the cap").isBetween(400L, 799L);
        assertThat(gaps.get(3)).as("capped").isBetween(400L, 799L);
        assertThat(queue.retryDelay(1)).isEqualTo(Duration.ofMillis(100));
        Thread.sleep(300);
        assertThat(attempts).as("a success is not retried").hasSize(5);
    }

    @Test
    void workAsksToBeLookedAtAgainLater() throws InterruptedException {
        List<Long> attempts = new CopyOnWriteArrayList<>();
        queue = new WorkQueue<>("test", 1, Duration.ofMillis(10), Duration.ofSeconds(1),
                key -> {
                    attempts.add(System.nanoTime());
                    return attempts.size() < 2 ? Duration.ofMillis(200) : Duration.ZERO;
                });
        queue.enqueue("vm");
        Thread.sleep(700);
        assertThat(attempts).as("looked at again once, as asked, then no more").hasSize(2);
        assertThat(TimeUnit.NANOSECONDS.toMillis(attempts.get(1) - attempts.get(0))).isBetween(200L, 399L);
    }

    /** Waits until the counter has stopped moving for 200 ms. */
    private static void awaitQuiet(AtomicInteger counter) throws InterruptedException {
        int seen;
        do {
            seen = counter.get();
            Thread.sleep(200);
        } while (counter.get() != seen);
    }
}
