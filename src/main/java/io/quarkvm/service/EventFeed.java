package io.quarkvm.service;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.quarkvm.config.QuarkvmConfig;
import io.quarkvm.persistence.DatabaseNotifications;
import io.quarkvm.persistence.EventLog;
import io.quarkvm.persistence.EventLog.LoggedEvent;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * This node's view of the event log, for its event streams. One reader thread reads new events in id order when
 * a NOTIFY says some node committed one (and every second regardless, and at once after LISTEN was lost and is back),
 * and keeps the newest in memory. Each subscriber pulls from there at its own pace with its own cursor, and reads
 * the log itself when it has fallen behind what memory holds: a slow subscriber holds nobody up and loses nothing.
 * One that has not taken an event for {@code quarkvm.events.stall-timeout} is dropped, alone.
 */
@ApplicationScoped
public class EventFeed {

    private static final Logger LOG = Logger.getLogger(EventFeed.class);
    private static final int READ_BATCH = 500;
    private static final int KEPT_IN_MEMORY = 10_000;
    private static final Duration POLL = Duration.ofSeconds(1);
    private static final Duration STALL_CHECK = Duration.ofSeconds(1);

    private final EventLog log;
    private final DatabaseNotifications notifications;
    private final Duration stallTimeout;
    private final Executor subscribers = Infrastructure.getDefaultWorkerPool();

    /** Every event with an id in (memoryFloor, head], in id order. */
    private final ConcurrentSkipListMap<Long, LoggedEvent> recent = new ConcurrentSkipListMap<>();
    private volatile long memoryFloor;
    private volatile long head;
    /** Completed (and replaced) whenever head moves on. */
    private volatile CompletableFuture<Void> headMoved = new CompletableFuture<>();
    private final Set<Subscription> subscriptions = ConcurrentHashMap.newKeySet();
    private final Counter stalledDropped;

    private final Object wakeUp = new Object();
    private boolean woken;
    private volatile boolean reading;
    private Thread reader;
    private ScheduledExecutorService stallChecks;

    EventFeed(EventLog log, DatabaseNotifications notifications, QuarkvmConfig config, MeterRegistry metrics) {
        Gauge.builder("quarkvm.events.subscribers", subscriptions, Set::size)
                .description("Event stream subscribers on this node").register(metrics);
        this.stalledDropped = Counter.builder("quarkvm.events.subscribers.dropped")
                .description("Event stream subscribers dropped because they stopped reading").register(metrics);
        this.log = log;
        this.notifications = notifications;
        this.stallTimeout = config.events().stallTimeout();
    }

    void start(@Observes @Priority(16) StartupEvent event) {
        head = log.lastId();
        memoryFloor = head;
        notifications.onEventCommitted(this::wake);
        notifications.onResubscribed(this::wake);
        reading = true;
        reader = new Thread(this::readLoop, "event-feed");
        reader.setDaemon(true);
        reader.start();
        stallChecks = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "event-feed-stalls"));
        stallChecks.scheduleWithFixedDelay(this::dropStalled, STALL_CHECK.toMillis(), STALL_CHECK.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    void stop(@Observes @Priority(2) ShutdownEvent event) {
        reading = false;
        if (reader != null) {
            reader.interrupt();
            stallChecks.shutdownNow();
        }
    }

    /**
     * A subscriber whose first event is the first after {@code after}, or (when empty) the next one this node reads;
     * {@code onStalled} drops its connection. The caller closes it when the subscriber goes.
     */
    public Subscription subscribe(OptionalLong after, Runnable onStalled) {
        Subscription subscription = new Subscription(after.orElse(head), after.isPresent(), onStalled);
        subscriptions.add(subscription);
        return subscription;
    }

    /** Events a subscriber takes next, preceded by the gap when events it should have had were pruned. */
    public record Batch(Optional<Gap> gap, List<LoggedEvent> events) {
    }

    /** Events {@code firstLost} .. {@code lastLost} were pruned before this subscriber could have them. */
    public record Gap(long firstLost, long lastLost) {
    }

    /** One subscriber's position in the log. */
    public final class Subscription implements AutoCloseable {

        private volatile long cursor;
        /** A subscriber resuming from an id it names reads the log first: the log knows what was pruned since. */
        private volatile boolean readLogFirst;
        private final Runnable onStalled;
        /** When the subscriber was handed the event it has not yet taken; 0 when it is waiting for more. */
        private volatile long sendingSinceNanos;
        private volatile boolean closed;

        private Subscription(long after, boolean resuming, Runnable onStalled) {
            this.cursor = after;
            this.readLogFirst = resuming;
            this.onStalled = onStalled;
        }

        /**
         * Completes once there is anything after the cursor (at once when there is), and moves the cursor past it.
         * Never completes after {@link #close()}. Calls must not overlap.
         */
        public CompletableFuture<Batch> next() {
            if (closed) {
                return new CompletableFuture<>();
            }
            if (readLogFirst) {
                readLogFirst = false;
                return readFromLog();
            }
            CompletableFuture<Void> moved = headMoved;
            long available = head;
            if (available <= cursor) {
                return moved.thenComposeAsync(ignored -> next(), subscribers);
            }
            if (cursor >= memoryFloor) {
                List<LoggedEvent> fromMemory = new ArrayList<>();
                for (LoggedEvent event : recent.subMap(cursor, false, available, true).values()) {
                    fromMemory.add(event);
                    if (fromMemory.size() == READ_BATCH) {
                        break;
                    }
                }
                if (cursor >= memoryFloor) { // looked at after the copy: memory was not trimmed past the cursor meanwhile
                    return CompletableFuture.completedFuture(taken(Optional.empty(), fromMemory));
                }
            }
            return readFromLog();
        }

        private CompletableFuture<Batch> readFromLog() {
            if (closed) {
                return new CompletableFuture<>();
            }
            long after = cursor;
            return CompletableFuture.supplyAsync(() -> log.readAfter(after, READ_BATCH), subscribers)
                    .thenApply(page -> taken(after < page.prunedThrough()
                            ? Optional.of(new Gap(after + 1, page.prunedThrough())) : Optional.empty(), page.events()))
                    .exceptionallyComposeAsync(failure -> {
                        LOG.debugf("an event subscriber reads the log again in %s: %s", POLL, failure.getMessage());
                        return readFromLog();
                    }, CompletableFuture.delayedExecutor(POLL.toMillis(), TimeUnit.MILLISECONDS, subscribers));
        }

        private Batch taken(Optional<Gap> gap, List<LoggedEvent> events) {
            long last = gap.map(Gap::lastLost).orElse(cursor);
            if (!events.isEmpty()) {
                last = Math.max(last, events.get(events.size() - 1).id());
            }
            cursor = last;
            return new Batch(gap, List.copyOf(events));
        }

        /** An event was handed to the subscriber's connection. */
        public void sending() {
            sendingSinceNanos = System.nanoTime();
        }

        /** The subscriber's connection took what it was handed, and asks for more. */
        public void taken() {
            sendingSinceNanos = 0;
        }

        private boolean stalled(long nowNanos) {
            long since = sendingSinceNanos;
            return since != 0 && nowNanos - since > stallTimeout.toNanos();
        }

        @Override
        public void close() {
            closed = true;
            subscriptions.remove(this);
        }
    }

    private void dropStalled() {
        long now = System.nanoTime();
        for (Subscription subscription : subscriptions) {
            if (subscription.stalled(now)) {
                LOG.warnf("dropped an event subscriber that took nothing for %s (at event %d; %d others keep reading)",
                        stallTimeout, subscription.cursor, subscriptions.size() - 1);
                subscription.close();
                stalledDropped.increment();
                try {
                    subscription.onStalled.run();
                } catch (RuntimeException e) {
                    LOG.warnf("could not close a stalled event subscriber's connection: %s", e.getMessage());
                }
            }
        }
    }

    private void wake() {
        synchronized (wakeUp) {
            woken = true;
            wakeUp.notifyAll();
        }
    }

    private void readLoop() {
        boolean failing = false;
        while (reading) {
            try {
                synchronized (wakeUp) {
                    if (!woken) {
                        wakeUp.wait(POLL.toMillis());
                    }
                    woken = false;
                }
            } catch (InterruptedException e) {
                return;
            }
            try {
                readNew();
                if (failing) {
                    LOG.info("the event feed reads the log again");
                    failing = false;
                }
            } catch (RuntimeException e) {
                if (!failing) {
                    LOG.warnf("the event feed cannot read the log (%s); it tries again every %s", e.getMessage(), POLL);
                    failing = true;
                }
            }
        }
    }

    private void readNew() {
        EventLog.Page page;
        do {
            page = log.readAfter(head, READ_BATCH);
            if (page.prunedThrough() > memoryFloor) {
                // What was pruned is gone for every node: a subscriber behind it learns of the gap from the log.
                memoryFloor = page.prunedThrough();
                recent.headMap(page.prunedThrough(), true).clear();
            }
            if (page.events().isEmpty()) {
                return;
            }
            for (LoggedEvent event : page.events()) {
                recent.put(event.id(), event);
            }
            advanceHead(page.events().get(page.events().size() - 1).id());
            trimMemory();
        } while (page.events().size() == READ_BATCH);
    }

    private void advanceHead(long newHead) {
        head = newHead;
        CompletableFuture<Void> moved = headMoved;
        headMoved = new CompletableFuture<>();
        moved.complete(null);
    }

    /** The floor moves before the events go, so a subscriber that copied from memory can tell whether it lost any. */
    private void trimMemory() {
        int excess = recent.size() - KEPT_IN_MEMORY;
        if (excess <= 0) {
            return;
        }
        long newFloor = recent.keySet().stream().skip(excess - 1).findFirst().orElseThrow();
        memoryFloor = newFloor;
        recent.headMap(newFloor, true).clear();
    }
}
