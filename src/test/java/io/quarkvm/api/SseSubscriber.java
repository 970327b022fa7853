package io.quarkvm.api;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.IntPredicate;

/**
 * A client of GET /api/v1/events over plain HTTP, reading on its own thread as fast as it can. It can drop its
 * connection after chosen events and connect again with {@code Last-Event-ID}, as a browser's EventSource does.
 */
final class SseSubscriber implements AutoCloseable {

    /** One event as the stream sent it: {@code event} is null for an ordinary (unnamed) event. */
    record Received(long id, String event, String data) {
    }

    private final URL url;
    private final IntPredicate reconnectAfter;
    private final List<Received> received = new ArrayList<>();
    private final CountDownLatch connected = new CountDownLatch(1);
    private final Thread thread;
    private volatile HttpURLConnection connection;
    private volatile boolean closing;
    private volatile String endedBy;
    private volatile int reconnects;

    /**
     * @param reconnectAfter given the number of events received so far (over every connection), whether to drop the
     *                       connection now and resume with the id of the last one
     */
    SseSubscriber(URL url, Long lastEventId, IntPredicate reconnectAfter) {
        this.url = url;
        this.reconnectAfter = reconnectAfter;
        this.thread = new Thread(() -> run(lastEventId), "sse-subscriber");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    SseSubscriber(URL url) {
        this(url, null, count -> false);
    }

    boolean awaitConnected(long seconds) throws InterruptedException {
        return connected.await(seconds, TimeUnit.SECONDS);
    }

    synchronized List<Received> received() {
        return List.copyOf(received);
    }

    int reconnects() {
        return reconnects;
    }

    /** Why the subscriber stopped reading by itself (the server ended the stream, a read failed), or null. */
    String endedBy() {
        return endedBy;
    }

    private void run(Long lastEventId) {
        Long resumeAfter = lastEventId;
        while (!closing) {
            try {
                HttpURLConnection c = (HttpURLConnection) url.openConnection();
                c.setRequestProperty("Accept", "text/event-stream");
                if (resumeAfter != null) {
                    c.setRequestProperty("Last-Event-ID", Long.toString(resumeAfter));
                }
                c.setReadTimeout(120_000);
                connection = c;
                if (c.getResponseCode() != 200) {
                    endedBy = "status " + c.getResponseCode();
                    return;
                }
                connected.countDown();
                Long last = read(c);
                if (last == null) {
                    endedBy = "the server ended the stream";
                    return;
                }
                reconnects++;
                resumeAfter = last;
            } catch (IOException e) {
                if (!closing) {
                    endedBy = e.toString();
                }
                return;
            }
        }
    }

    /** Reads events until the server ends the stream (null) or it is time to reconnect (the last id read). */
    private Long read(HttpURLConnection c) throws IOException {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(c.getInputStream(), StandardCharsets.UTF_8))) {
            Long id = null;
            String event = null;
            StringBuilder data = new StringBuilder();
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                if (line.isEmpty()) {
                    if (id == null) {
                        continue;
                    }
                    int count;
                    synchronized (this) {
                        received.add(new Received(id, event, data.toString()));
                        count = received.size();
                    }
                    long last = id;
                    id = null;
                    event = null;
                    data.setLength(0);
                    if (reconnectAfter.test(count)) {
                        c.disconnect();
                        return last;
                    }
                } else if (line.startsWith("id:")) {
                    id = Long.parseLong(field(line, "id:"));
                } else if (line.startsWith("event:")) {
                    event = field(line, "event:");
                } else if (line.startsWith("data:")) {
                    data.append(field(line, "data:"));
                }
            }
            return null;
        }
    }

    private static String field(String line, String name) {
        String value = line.substring(name.length());
        return value.startsWith(" ") ? value.substring(1) : value;
    }

    @Override
    public void close() throws InterruptedException {
        closing = true;
        HttpURLConnection c = connection;
        if (c != null) {
            c.disconnect();
        }
        thread.join(5_000);
    }
}
