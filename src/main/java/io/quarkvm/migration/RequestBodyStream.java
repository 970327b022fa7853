package io.quarkvm.migration;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.TimeUnit;

/**
 * A Vert.x request body read as a blocking {@link InputStream} by a worker thread, as it arrives: the event loop
 * queues the buffers and pauses the request while more than {@link #HIGH_WATER} bytes wait, so a slow reader holds
 * back the sender (TCP flow control) instead of filling the heap with a gigabyte of guest memory.
 */
public final class RequestBodyStream extends InputStream {

    static final int HIGH_WATER = 8 << 20;
    private static final int LOW_WATER = HIGH_WATER / 2;

    private final ReadStream<Buffer> body;
    private final long idleTimeoutNanos;
    /** Guarded by this. */
    private final Deque<Buffer> queued = new ArrayDeque<>();
    /** Guarded by this. */
    private long queuedBytes;
    /** Guarded by this: the first unread byte of the head buffer. */
    private int headOffset;
    /** Guarded by this. */
    private boolean ended;
    /** Guarded by this. */
    private Throwable failure;
    /** Guarded by this. */
    private boolean paused;

    /**
     * Starts taking {@code body}'s buffers; call on the request's event loop before the body arrives.
     *
     * @param idleTimeoutMillis how long a read waits for the sender before it fails: a source that hangs must not
     *                          hold a half-built VM for ever
     */
    public RequestBodyStream(ReadStream<Buffer> body, long idleTimeoutMillis) {
        this.body = body;
        this.idleTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(idleTimeoutMillis);
        body.handler(this::arrived);
        body.endHandler(ignored -> ended(null));
        body.exceptionHandler(this::ended);
    }

    private synchronized void arrived(Buffer buffer) {
        queued.addLast(buffer);
        queuedBytes += buffer.length();
        if (queuedBytes > HIGH_WATER && !paused) {
            paused = true;
            body.pause();
        }
        notifyAll();
    }

    private synchronized void ended(Throwable cause) {
        ended = true;
        failure = cause;
        notifyAll();
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
    }

    @Override
    public synchronized int read(byte[] into, int offset, int length) throws IOException {
        if (length == 0) {
            return 0;
        }
        long deadline = System.nanoTime() + idleTimeoutNanos;
        while (queued.isEmpty()) {
            if (ended) {
                if (failure != null) {
                    throw new IOException("the connection from the source broke: " + failure.getMessage(), failure);
                }
                return -1;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new IOException("the source sent nothing for " + TimeUnit.NANOSECONDS.toMillis(idleTimeoutNanos)
                        + " ms");
            }
            try {
                TimeUnit.NANOSECONDS.timedWait(this, left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while reading the migration stream");
            }
        }
        Buffer head = queued.peekFirst();
        int taken = Math.min(length, head.length() - headOffset);
        head.getBytes(headOffset, headOffset + taken, into, offset);
        headOffset += taken;
        queuedBytes -= taken;
        if (headOffset == head.length()) {
            queued.removeFirst();
            headOffset = 0;
        }
        if (paused && queuedBytes < LOW_WATER) {
            paused = false;
            body.resume();
        }
        return taken;
    }
}
