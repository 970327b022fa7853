package io.quarkvm.api;

import io.quarkvm.TestCredentials;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkvm.domain.Slot;
import io.quarkvm.domain.VmPhase;
import io.quarkvm.persistence.DatabaseNotifications;
import io.quarkvm.persistence.EventLog;
import io.quarkvm.persistence.VmEntity;
import io.quarkvm.persistence.VmEvent;
import io.quarkvm.service.ExpectedVersion;
import io.quarkvm.service.VmService;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/**
 * GET /api/v1/events under bursts, against the real embedded PostgreSQL: many subscribers, some reconnecting
 * mid-burst with Last-Event-ID, one that stops reading, and one resuming from an event already pruned.
 */
@QuarkusTest
class EventStreamTest {

    private static final int SUBSCRIBERS = 50;
    private static final int RECONNECTING = 25;
    private static final int VMS = 4;
    private static final int EVENTS_PER_BURST = 1000;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TestHTTPResource("/api/v1/events")
    URL events;

    @Inject
    VmService vms;

    @Inject
    EventLog log;

    @Inject
    MeterRegistry metrics;

    @Inject
    DatabaseNotifications notifications;

    @Test
    void everySubscriberGetsEveryEventOfTwoBurstsInOrderAndThoseReconnectingMidBurstLoseNothing() throws Exception {
        List<UUID> ids = createVms("burst", VMS);
        long before = log.lastId();
        List<SseSubscriber> subscribers = new ArrayList<>();
        for (int i = 0; i < SUBSCRIBERS; i++) {
            subscribers.add(i < RECONNECTING ? new SseSubscriber(events, null, reconnectPoints(i)::contains)
                    : new SseSubscriber(events));
        }
        try {
            for (SseSubscriber subscriber : subscribers) {
                assertThat(subscriber.awaitConnected(60)).isTrue();
            }
            Duration first = burst(ids);
            Duration second = burst(ids);
            System.out.printf("EventStreamTest: bursts of %d events from %d writers took %d ms and %d ms (%d subscribers)%n",
                    EVENTS_PER_BURST, VMS, first.toMillis(), second.toMillis(), SUBSCRIBERS);

            Instant burstsEnded = Instant.now();
            List<Long> logged = loggedIdsOf(ids, before);
            assertThat(logged).hasSize(2 * EVENTS_PER_BURST);
            Instant deadline = Instant.now().plusSeconds(120);
            for (int i = 0; i < SUBSCRIBERS; i++) {
                SseSubscriber subscriber = subscribers.get(i);
                while (eventsOf(ids, subscriber.received(), before).size() < logged.size() && Instant.now().isBefore(deadline)
                        && subscriber.endedBy() == null) {
                    Thread.sleep(50);
                }
                List<SseSubscriber.Received> received = subscriber.received();
                assertThat(subscriber.endedBy()).as("subscriber %d", i).isNull();
                assertThat(eventsOf(ids, received, before)).as("subscriber %d: every event, once, in the log's order", i)
                        .isEqualTo(logged);
                assertThat(received).extracting(SseSubscriber.Received::id).as("subscriber %d", i).isSorted()
                        .doesNotHaveDuplicates();
                assertThat(subscriber.reconnects()).as("subscriber %d", i).isEqualTo(i < RECONNECTING ? 2 : 0);
            }
            System.out.printf("EventStreamTest: every subscriber had every event %d ms after the second burst%n",
                    Duration.between(burstsEnded, Instant.now()).toMillis());
            assertVersionsWithoutHoles(ids, before);
        } finally {
            for (SseSubscriber subscriber : subscribers) {
                subscriber.close();
            }
        }
    }

    /** One reconnection in each burst, at a different point for each subscriber. */
    private static Set<Integer> reconnectPoints(int subscriber) {
        return Set.of(100 + 30 * subscriber, EVENTS_PER_BURST + 100 + 30 * subscriber);
    }

    @Test
    void aSubscriberThatStopsReadingIsDroppedAloneWhileTheOthersGetEverything() throws Exception {
        List<UUID> ids = createVms("stall", 2);
        long before = log.lastId();
        double droppedBefore = dropped();
        try (SseSubscriber reading = new SseSubscriber(events); SseSubscriber alsoReading = new SseSubscriber(events);
             Socket stalled = new Socket()) {
            stalled.setReceiveBufferSize(1024);
            stalled.connect(new InetSocketAddress(events.getHost(), events.getPort()));
            OutputStream request = stalled.getOutputStream();
            request.write(("GET /api/v1/events HTTP/1.1\r\nHost: " + events.getHost() + "\r\nAccept: text/event-stream\r\n"
                    + "Authorization: " + TestCredentials.OPERATOR_AUTHORIZATION + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            request.flush();
            assertThat(reading.awaitConnected(60)).isTrue();
            assertThat(alsoReading.awaitConnected(60)).isTrue();

            // Until its socket's buffers are full (the kernel grows a loopback socket's send buffer to megabytes) the
            // server cannot tell a subscriber that stopped reading; then it waits quarkvm.events.stall-timeout (3 s in
            // tests). Events with a long error fill the buffers sooner than many plug/unplug pairs would.
            int eventsSent = 0;
            Instant until = Instant.now().plusSeconds(120);
            while (dropped() == droppedBefore && Instant.now().isBefore(until)) {
                eventsSent += announceCrashes(ids.get(0), 200);
                Thread.sleep(200);
            }
            assertThat(dropped()).as("dropped after %d events", eventsSent).isEqualTo(droppedBefore + 1);
            System.out.printf("EventStreamTest: the stalled subscriber was dropped after %d events%n", eventsSent);
            plugUnplugPairs(ids, 50); // the others go on receiving

            List<Long> logged = loggedIdsOf(ids, before);
            for (SseSubscriber subscriber : List.of(reading, alsoReading)) {
                Instant deadline = Instant.now().plusSeconds(60);
                while (eventsOf(ids, subscriber.received(), before).size() < logged.size() && Instant.now().isBefore(deadline)) {
                    Thread.sleep(50);
                }
                assertThat(subscriber.endedBy()).isNull();
                assertThat(eventsOf(ids, subscriber.received(), before)).isEqualTo(logged);
            }
            assertThat(readsToTheEnd(stalled)).as("the stalled subscriber's connection was closed by the server").isTrue();
        }
    }

    @Test
    void resumingFromAPrunedEventStartsWithAGapEventNamingTheLostIds() throws Exception {
        List<UUID> ids = createVms("gap", 1);
        long before = log.lastId();
        plugUnplugPairs(ids, 5);
        List<Long> logged = loggedIdsOf(ids, before);
        assertThat(logged).hasSize(10);

        long prunedThrough = log.prune(Instant.now().minus(1, ChronoUnit.HOURS), 4);
        assertThat(prunedThrough).isEqualTo(logged.get(5));
        long resumeFrom = logged.get(1);
        try (SseSubscriber resumed = new SseSubscriber(events, resumeFrom, count -> false)) {
            awaitReceived(resumed, 5);
            List<SseSubscriber.Received> received = resumed.received();
            SseSubscriber.Received gap = received.get(0);
            assertThat(gap.event()).isEqualTo("gap");
            assertThat(gap.id()).isEqualTo(prunedThrough);
            JsonNode lost = JSON.readTree(gap.data());
            assertThat(lost.get("type").asText()).isEqualTo("gap");
            assertThat(lost.get("firstLostId").asLong()).isEqualTo(resumeFrom + 1);
            assertThat(lost.get("lastLostId").asLong()).isEqualTo(prunedThrough);
            assertThat(received.subList(1, 5)).extracting(SseSubscriber.Received::id).isEqualTo(logged.subList(6, 10));
            assertThat(received.subList(1, 5)).extracting(SseSubscriber.Received::event).containsOnlyNulls();
        }
        // resuming after an id that is still kept: no gap, just what follows
        try (SseSubscriber resumed = new SseSubscriber(new URL(events + "?after=" + logged.get(7)), null, count -> false)) {
            awaitReceived(resumed, 2);
            assertThat(resumed.received()).extracting(SseSubscriber.Received::id).isEqualTo(logged.subList(8, 10));
        }
    }

    @Test
    void aMalformedLastEventIdIsABadRequest() {
        for (String bad : List.of("abc", "-1", "1.5", "99999999999999999999")) {
            given().header("Last-Event-ID", bad).get("/api/v1/events")
                    .then().statusCode(400).contentType("application/problem+json")
                    .body("status", equalTo(400)).body("field", equalTo("Last-Event-ID"));
        }
        given().queryParam("after", "x").get("/api/v1/events")
                .then().statusCode(400).contentType("application/problem+json").body("field", equalTo("after"));
    }

    private List<UUID> createVms(String prefix, int count) {
        return IntStream.range(0, count).mapToObj(i -> UUID.fromString(VmResourceTest.createVm(
                VmResourceTest.vmJson(VmResourceTest.uniqueName(prefix), "latest", 1, 1, 2, 1, 1)))).toList();
    }

    /** {@link #EVENTS_PER_BURST} events: plug/unplug pairs, one writer per VM at the same time. */
    private Duration burst(List<UUID> ids) throws Exception {
        Instant start = Instant.now();
        plugUnplugPairs(ids, EVENTS_PER_BURST / 2 / ids.size());
        return Duration.between(start, Instant.now());
    }

    private void plugUnplugPairs(List<UUID> ids, int pairsPerVm) throws Exception {
        ExecutorService writers = Executors.newFixedThreadPool(ids.size());
        try {
            List<Future<?>> done = new ArrayList<>();
            for (UUID id : ids) {
                done.add(writers.submit(() -> {
                    for (int pair = 0; pair < pairsPerVm; pair++) {
                        var vm = vms.plug(id, new Slot(0, 0, 1, 0), ExpectedVersion.ANY);
                        int apicId = vm.vcpus.stream().filter(v -> v.plugged && v.core == 1).findFirst().orElseThrow().apicId;
                        vms.unplug(id, apicId, ExpectedVersion.ANY);
                    }
                    return null;
                }));
            }
            for (Future<?> writer : done) {
                writer.get();
            }
        } finally {
            writers.shutdown();
        }
    }

    /** Events as a node records a crash (with its reason, cut as VmEvent cuts it), this many in one transaction. */
    private int announceCrashes(UUID id, int count) {
        VmEntity vm = vms.get(id);
        vm.phase = VmPhase.CRASHED;
        vm.lastError = "the guest crashed: " + "x".repeat(2000);
        VmEvent crashed = VmEvent.ofVm("phase", vm);
        QuarkusTransaction.requiringNew().run(() -> IntStream.range(0, count).forEach(i -> notifications.announce(crashed)));
        return count;
    }

    /** The ids of the VMs' events in the log after {@code after}, in the log's order. */
    private List<Long> loggedIdsOf(List<UUID> vmIds, long after) {
        List<Long> ids = new ArrayList<>();
        for (List<EventLog.LoggedEvent> page = log.readAfter(after, 1000).events(); !page.isEmpty();
             page = log.readAfter(page.get(page.size() - 1).id(), 1000).events()) {
            page.stream().filter(event -> vmIds.contains(event.vmId())).forEach(event -> ids.add(event.id()));
        }
        return ids;
    }

    /**
     * The ids of the events of these VMs logged after {@code after} that a subscriber received. A subscriber that
     * connects with no Last-Event-ID starts where its node's feed is, which may be an event or two before the log's
     * last id read just before: those are not the test's.
     */
    private static List<Long> eventsOf(List<UUID> vmIds, List<SseSubscriber.Received> received, long after) {
        Set<String> names = Set.copyOf(vmIds.stream().map(UUID::toString).toList());
        List<Long> ids = new ArrayList<>();
        for (SseSubscriber.Received event : received) {
            if (event.event() == null && event.id() > after && names.stream().anyMatch(event.data()::contains)) {
                ids.add(event.id());
            }
        }
        return ids;
    }

    /** Each VM's events carry its versions one after the other: none was logged twice or skipped. */
    private void assertVersionsWithoutHoles(List<UUID> vmIds, long after) throws IOException {
        Map<UUID, List<Long>> versions = new HashMap<>();
        for (List<EventLog.LoggedEvent> page = log.readAfter(after, 1000).events(); !page.isEmpty();
             page = log.readAfter(page.get(page.size() - 1).id(), 1000).events()) {
            for (EventLog.LoggedEvent event : page) {
                if (vmIds.contains(event.vmId())) {
                    versions.computeIfAbsent(event.vmId(), id -> new ArrayList<>())
                            .add(JSON.readTree(event.payload()).get("version").asLong());
                }
            }
        }
        for (List<Long> ofOneVm : versions.values()) {
            assertThat(ofOneVm).isEqualTo(IntStream.rangeClosed(1, ofOneVm.size()).mapToObj(Long::valueOf).toList());
        }
    }

    static void awaitReceived(SseSubscriber subscriber, int count) throws InterruptedException {
        Instant deadline = Instant.now().plusSeconds(30);
        while (subscriber.received().size() < count && Instant.now().isBefore(deadline)) {
            Thread.sleep(20);
        }
        assertThat(subscriber.received()).hasSize(count);
    }

    private double dropped() {
        return metrics.counter("quarkvm.events.subscribers.dropped").count();
    }

    /** Reads what the server had sent before it closed the connection: true once the end is reached. */
    private static boolean readsToTheEnd(Socket socket) throws IOException {
        socket.setSoTimeout(30_000);
        InputStream in = socket.getInputStream();
        byte[] buffer = new byte[65536];
        try {
            while (in.read(buffer) >= 0) {
                // what was on its way when the server closed it
            }
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException reset) {
            return true; // closed with data still unsent: a reset
        }
    }
}
