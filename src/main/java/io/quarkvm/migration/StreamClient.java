package io.quarkvm.migration;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.SubmissionPublisher;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * The source's end of the node-to-node stream: one chunked POST to the target's stream route, written as the
 * transfer produces it, and the target's answer. The body goes through a bounded publisher, so the transfer
 * waits for the network rather than buffering guest memory, and learns at its next write when the target has
 * already answered (a refusal before it read everything).
 */
public final class StreamClient {

    /** Where a target takes streams: the path of io.quarkvm.api.MigrationStreamRoute. */
    public static final String STREAM_PATH = "/internal/v1/migrations/%s/stream";
    public static final String MEDIA_TYPE = "application/x-quarkvm-migration";
    private static final int CHUNK_BYTES = 256 << 10;
    /** Chunks in flight: with {@link #CHUNK_BYTES}, 8 MiB between the transfer and the socket. */
    private static final int CHUNKS_IN_FLIGHT = 32;
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);

    /**
     * Its own work runs where it arises (the caller's thread, the client's selector thread) rather than on a pool:
     * each hand-off to another thread costs a wake-up, and the last chunk and the answer are the VM's downtime.
     */
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(CONNECT_TIMEOUT).executor(Runnable::run).build();
    private final Duration stallTimeout;

    /** @param stallTimeout how long a write may wait for a target that stopped reading before the stream fails */
    public StreamClient(Duration stallTimeout) {
        this.stallTimeout = stallTimeout;
    }

    /** What the target answered: its status and body (a problem+json when it refused). */
    public record Answer(int status, String body) {
        public boolean accepted() {
            return status == 200;
        }
    }

    /** Writes the stream; the stream it is given is closed by {@link #send}, not by the writer. */
    @FunctionalInterface
    public interface StreamWriter {
        void write(OutputStream stream) throws IOException;
    }

    /**
     * Sends what {@code writer} writes to the target at {@code targetUrl} and waits up to {@code answerTimeout} after
     * the last byte for its answer.
     *
     * @throws IOException the connection failed or broke, the target stopped reading, or did not answer in time
     */
    public Answer send(String targetUrl, UUID migrationId, String clusterSecret, StreamWriter writer,
                       Duration answerTimeout) throws IOException {
        SubmissionPublisher<ByteBuffer> body = new SubmissionPublisher<>(Runnable::run, CHUNKS_IN_FLIGHT);
        HttpRequest request = HttpRequest.newBuilder(URI.create(targetUrl + String.format(STREAM_PATH, migrationId)))
                .header("Authorization", "Bearer " + clusterSecret)
                .header("Content-Type", MEDIA_TYPE)
                .POST(HttpRequest.BodyPublishers.fromPublisher(body))
                .build();
        CompletableFuture<HttpResponse<String>> response = http.sendAsync(request, HttpResponse.BodyHandlers.ofString());
        try (PublishingStream stream = new PublishingStream(body, response)) {
            writer.write(stream);
        } catch (IOException e) {
            body.closeExceptionally(e);
            if (response.isDone() && !response.isCompletedExceptionally()) {
                return answerOf(response); // the target answered first: its reason is the better one
            }
            response.cancel(true);
            throw e;
        }
        try {
            response.get(answerTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            response.cancel(true);
            throw new IOException("the target did not answer within " + answerTimeout.toMillis() + " ms of the end of "
                    + "the stream");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for the target's answer");
        } catch (ExecutionException e) {
            throw new IOException("the connection to the target failed: " + e.getCause().getMessage(), e.getCause());
        }
        return answerOf(response);
    }

    private static Answer answerOf(CompletableFuture<HttpResponse<String>> response) {
        HttpResponse<String> answer = response.join();
        return new Answer(answer.statusCode(), answer.body());
    }

    /** Cuts what is written into chunks for the publisher, each waited for at most the stall timeout. */
    private final class PublishingStream extends OutputStream {
        private final SubmissionPublisher<ByteBuffer> body;
        private final CompletableFuture<HttpResponse<String>> response;
        private byte[] chunk = new byte[CHUNK_BYTES];
        private int filled;
        private boolean subscribed;

        PublishingStream(SubmissionPublisher<ByteBuffer> body, CompletableFuture<HttpResponse<String>> response) {
            this.body = body;
            this.response = response;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] bytes, int offset, int length) throws IOException {
            while (length > 0) {
                int taken = Math.min(length, chunk.length - filled);
                System.arraycopy(bytes, offset, chunk, filled, taken);
                filled += taken;
                offset += taken;
                length -= taken;
                if (filled == chunk.length) {
                    flush();
                }
            }
        }

        @Override
        public void flush() throws IOException {
            if (filled == 0) {
                return;
            }
            awaitSubscribed();
            ByteBuffer full = ByteBuffer.wrap(chunk, 0, filled);
            chunk = new byte[CHUNK_BYTES];
            filled = 0;
            int lag = body.offer(full, stallTimeout.toMillis(), TimeUnit.MILLISECONDS, (subscriber, dropped) -> false);
            if (lag < 0) {
                throw new IOException(response.isDone() ? "the target answered before the stream ended"
                        : "the target read nothing for " + stallTimeout.toMillis() + " ms");
            }
        }

        /**
         * The client takes the body once it has connected; what is offered before that is dropped, and after it has
         * let go of the body (the connection broke) too.
         */
        private void awaitSubscribed() throws IOException {
            long deadline = System.nanoTime() + CONNECT_TIMEOUT.toNanos() * 2;
            while (!subscribed) {
                if (response.isDone()) {
                    throw new IOException("the target answered before the stream ended");
                }
                if (body.hasSubscribers()) {
                    subscribed = true;
                    return;
                }
                if (System.nanoTime() > deadline) {
                    throw new IOException("could not send to the target within " + CONNECT_TIMEOUT.toSeconds() * 2
                            + " s of connecting");
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
            }
            if (response.isDone() || !body.hasSubscribers()) {
                throw new IOException("the target answered before the stream ended");
            }
        }

        @Override
        public void close() throws IOException {
            flush();
            body.close();
        }
    }
}
