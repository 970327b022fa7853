package io.quarkvm.emulated;

import io.quarkvm.kvm.NativeMapping;
import io.quarkvm.kvm.Posix;
import java.util.BitSet;

/**
 * KVM_GET_DIRTY_LOG for emulated guest RAM, by comparison with a shadow copy of what it held at the last call:
 * no write hook (Java per store would cost far more), no write protection. A page is dirty when its bytes differ
 * from the copy; a page written back to its old contents counts as clean, which is all a migration needs to know.
 * Unlike KVM's log, which sees only the guest's writes, this one also reports pages the host wrote through its own
 * mapping: more pages to send, never fewer.
 * Chunks of {@value #CHUNK_PAGES} pages are compared first, so memory that did not change costs one memcmp a chunk.
 */
final class ShadowDirtyLog implements AutoCloseable {

    static final int PAGE_SIZE = 4096;
    private static final int CHUNK_PAGES = 16;

    private final long ram;
    private final long size;
    private final NativeMapping shadow;
    /** Guarded by this. */
    private boolean closed;

    /** Starts logging with every page clean: the shadow is a copy of {@code size} bytes at host {@code ram}. */
    ShadowDirtyLog(long ram, long size) {
        this.ram = ram;
        this.size = size;
        this.shadow = NativeMapping.anonymous(size);
        try (NativeMapping zeros = NativeMapping.anonymous(CHUNK_PAGES * PAGE_SIZE)) {
            long chunk = (long) CHUNK_PAGES * PAGE_SIZE;
            for (long offset = 0; offset < size; offset += chunk) {
                long length = Math.min(chunk, size - offset);
                // The shadow starts zero-filled and uncommitted: copying RAM the guest never touched would commit it.
                if (Posix.LIBC.memcmp(ram + offset, zeros.address(), length) != 0) {
                    Posix.LIBC.memcpy(shadow.address() + offset, ram + offset, length);
                }
            }
        }
    }

    /** The pages (by number in the slot) that changed since the last call; the shadow now holds them as they are. */
    synchronized BitSet collect() {
        if (closed) {
            throw new IllegalStateException("the dirty log has ended"); // its shadow is unmapped
        }
        BitSet dirty = new BitSet((int) (size / PAGE_SIZE));
        long chunk = (long) CHUNK_PAGES * PAGE_SIZE;
        for (long offset = 0; offset < size; offset += chunk) {
            long length = Math.min(chunk, size - offset);
            if (Posix.LIBC.memcmp(ram + offset, shadow.address() + offset, length) == 0) {
                continue;
            }
            for (long page = offset; page < offset + length; page += PAGE_SIZE) {
                if (Posix.LIBC.memcmp(ram + page, shadow.address() + page, PAGE_SIZE) != 0) {
                    Posix.LIBC.memcpy(shadow.address() + page, ram + page, PAGE_SIZE);
                    dirty.set((int) (page / PAGE_SIZE));
                }
            }
        }
        return dirty;
    }

    @Override
    public synchronized void close() {
        closed = true;
        shadow.close();
    }
}
