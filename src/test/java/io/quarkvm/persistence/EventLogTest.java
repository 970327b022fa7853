package io.quarkvm.persistence;

import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/** The event log on the real embedded PostgreSQL: ids in commit order, readers that never skip, pruning. */
@QuarkusTest
class EventLogTest {

    @Inject
    EventLog log;

    @Test
    void anEventGetsItsIdWhenItsTransactionCommitsNotWhenItWasWritten() throws Exception {
        UUID first = UUID.randomUUID();
        UUID second = UUID.randomUUID();
        long before = log.lastId();
        CountDownLatch written = new CountDownLatch(1);
        CountDownLatch secondCommitted = new CountDownLatch(1);
        CompletableFuture<Void> writtenFirst = CompletableFuture.runAsync(() -> QuarkusTransaction.requiringNew().run(() -> {
            log.append(event(first));
            written.countDown();
            await(secondCommitted);
        }));
        assertThat(written.await(30, TimeUnit.SECONDS)).isTrue();
        QuarkusTransaction.requiringNew().run(() -> log.append(event(second)));
        assertThat(log.readAfter(before, 100).events()).extracting(EventLog.LoggedEvent::vmId).containsExactly(second);
        secondCommitted.countDown();
        writtenFirst.get(30, TimeUnit.SECONDS);

        assertThat(log.readAfter(before, 100).events()).extracting(EventLog.LoggedEvent::vmId).containsExactly(second, first);
    }

    @Test
    void aReaderFollowingConcurrentWritersSeesEveryEventOnceInIdOrder() throws Exception {
        int writers = 6;
        int transactionsEach = 60;
        UUID vm = UUID.randomUUID();
        long before = log.lastId();
        AtomicBoolean writing = new AtomicBoolean(true);
        CompletableFuture<List<Long>> followed = CompletableFuture.supplyAsync(() -> follow(vm, before, writing));
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                done.add(pool.submit(() -> {
                    for (int t = 0; t < transactionsEach; t++) {
                        QuarkusTransaction.requiringNew().run(() -> {
                            int events = 1 + ThreadLocalRandom.current().nextInt(3);
                            for (int e = 0; e < events; e++) {
                                log.append(event(vm));
                            }
                            // transactions that wrote first commit last, and the other way round
                            sleepMicros(ThreadLocalRandom.current().nextInt(3000));
                        });
                    }
                    return null;
                }));
            }
            for (Future<?> writer : done) {
                writer.get(5, TimeUnit.MINUTES);
            }
        } finally {
            writing.set(false);
            pool.shutdown();
        }
        List<Long> seen = followed.get(1, TimeUnit.MINUTES);
        List<Long> all = idsOf(vm, log.readAfter(before, 10_000).events());
        assertThat(all.size()).isBetween(writers * transactionsEach, writers * transactionsEach * 3);
        assertThat(seen).as("what a reader saw while they were written").isEqualTo(all);
    }

    @Test
    void pruningKeepsTheNewestEventsAndSaysHowFarItWent() throws Exception {
        UUID vm = UUID.randomUUID();
        long before = log.lastId();
        for (int i = 0; i < 6; i++) {
            QuarkusTransaction.requiringNew().run(() -> log.append(event(vm)));
        }
        Thread.sleep(50);
        Instant cutoff = Instant.now();
        Thread.sleep(50);
        for (int i = 0; i < 4; i++) {
            QuarkusTransaction.requiringNew().run(() -> log.append(event(vm)));
        }
        List<Long> ids = idsOf(vm, log.readAfter(before, 100).events());
        assertThat(ids).hasSize(10);

        assertThat(log.prune(cutoff, 1000)).as("older than the cutoff").isBetween(ids.get(5), ids.get(6) - 1);
        assertThat(idsOf(vm, log.readAfter(before, 100).events())).isEqualTo(ids.subList(6, 10));
        assertThat(log.prune(cutoff, 2)).as("beyond the newest 2").isEqualTo(ids.get(7));
        EventLog.Page page = log.readAfter(before, 100);
        assertThat(page.prunedThrough()).isEqualTo(ids.get(7));
        assertThat(idsOf(vm, page.events())).isEqualTo(ids.subList(8, 10));
        assertThat(log.prune(Instant.EPOCH, 1000)).as("never moves back").isEqualTo(ids.get(7));
        assertThat(log.lastId()).isEqualTo(ids.get(9));
    }

    private List<Long> follow(UUID vm, long after, AtomicBoolean writing) {
        List<Long> seen = new ArrayList<>();
        long cursor = after;
        boolean lastRound = false;
        while (!lastRound) {
            lastRound = !writing.get();
            for (List<EventLog.LoggedEvent> page = log.readAfter(cursor, 50).events(); !page.isEmpty();
                 page = log.readAfter(cursor, 50).events()) {
                seen.addAll(idsOf(vm, page));
                cursor = page.get(page.size() - 1).id();
            }
            sleepMicros(500);
        }
        return seen;
    }

    private static List<Long> idsOf(UUID vm, List<EventLog.LoggedEvent> events) {
        return events.stream().filter(e -> e.vmId().equals(vm)).map(EventLog.LoggedEvent::id).toList();
    }

    private static VmEvent event(UUID vm) {
        return new VmEvent("vcpu-plugged", vm, "event-log-test", Instant.now(), null, null, "test-node", 1L, null, 0, 0, 0, null);
    }

    private static void await(CountDownLatch latch) {
        try {
            assertThat(latch.await(30, TimeUnit.SECONDS)).isTrue();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void sleepMicros(int micros) {
        try {
            TimeUnit.MICROSECONDS.sleep(micros);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }
}
