package io.quarkvm.api;

import io.quarkvm.TestCredentials;

import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.IntPredicate;

/**
 * A client of GET /api/v1/events over a plain socket (HTTP/1.1), reading on its own thread as fast as it can; closing
 * it closes the socket at once (HttpURLConnection's disconnect waits for the stream to end). It can drop its
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
    private volatile Socket socket;
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
            try (Socket connection = new Socket()) {
                socket = connection;
                connection.connect(new InetSocketAddress(url.getHost(), url.getPort()));
                connection.setSoTimeout(120_000);
                connection.getOutputStream().write(("GET " + url.getFile() + " HTTP/1.1\r\nHost: " + url.getHost()
                        + "\r\nAccept: text/event-stream\r\nAuthorization: " + TestCredentials.OPERATOR_AUTHORIZATION + "\r\n"
                        + (resumeAfter == null ? "" : "Last-Event-ID: " + resumeAfter + "\r\n") + "\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                InputStream in = new BufferedInputStream(connection.getInputStream());
                String status = asciiLine(in);
                if (!status.startsWith("HTTP/1.1 200")) {
                    endedBy = status;
                    return;
                }
                boolean chunked = false;
                for (String header = asciiLine(in); !header.isEmpty(); header = asciiLine(in)) {
                    chunked |= header.equalsIgnoreCase("transfer-encoding: chunked");
                }
                connected.countDown();
                Long last = read(new BufferedReader(new InputStreamReader(chunked ? new Chunked(in) : in,
                        StandardCharsets.UTF_8)));
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
    private Long read(BufferedReader in) throws IOException {
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

    private static String asciiLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0) {
                throw new EOFException("the connection ended in the middle of a line");
            }
            if (c != '\r') {
                line.append((char) c);
            }
        }
        return line.toString();
    }

    /** HTTP/1.1 chunked transfer coding: the body as the chunks' data, one after the other. */
    private static final class Chunked extends InputStream {
        private final InputStream in;
        private int leftInChunk;
        private boolean ended;

        Chunked(InputStream in) {
            this.in = in;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            if (ended) {
                return -1;
            }
            if (leftInChunk == 0) {
                String size = asciiLine(in);
                if (size.isEmpty()) { // the line break that ends the previous chunk
                    size = asciiLine(in);
                }
                leftInChunk = Integer.parseInt(size.split(";")[0].strip(), 16);
                if (leftInChunk == 0) {
                    ended = true;
                    return -1;
                }
            }
            int read = in.read(buffer, offset, Math.min(length, leftInChunk));
            if (read < 0) {
                throw new EOFException("the connection ended in the middle of a chunk");
            }
            leftInChunk -= read;
            return read;
        }
    }

    private static String field(String line, String name) {
        String value = line.substring(name.length());
        return value.startsWith(" ") ? value.substring(1) : value;
    }

    @Override
    public void close() throws InterruptedException, IOException {
        closing = true;
        Socket connection = socket;
        if (connection != null) {
            connection.close();
        }
        thread.join(5_000);
    }
}
