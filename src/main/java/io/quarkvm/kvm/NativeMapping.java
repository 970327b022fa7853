package io.quarkvm.kvm;

import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;
import jnr.ffi.Pointer;

/** One mmap'ed region of this process (guest memory, a vCPU's kvm_run), unmapped exactly once by {@link #close}. */
public final class NativeMapping implements AutoCloseable {

    private static final Path PAGEMAP = Path.of("/proc/self/pagemap");
    /** The unit of /proc/self/pagemap: one 64-bit entry per 4 KiB page of the process's address space. */
    private static final int PAGE_SIZE = 4096;
    /** Bit 63 of a pagemap entry: the page is in RAM (Documentation/admin-guide/mm/pagemap.rst). */
    private static final long PAGEMAP_PRESENT = 1L << 63;
    /** Bit 62 of a pagemap entry: the page is swapped out. */
    private static final long PAGEMAP_SWAPPED = 1L << 62;
    /** Entries read per pread: 512 KiB, the entries of 256 MiB of mapping. */
    private static final int PAGEMAP_ENTRIES_PER_READ = 64 * 1024;

    private final long address;
    private final long size;
    private final boolean anonymous;
    private final Pointer pointer;
    private boolean unmapped;

    private NativeMapping(long address, long size, boolean anonymous) {
        this.address = address;
        this.size = size;
        this.anonymous = anonymous;
        this.pointer = Posix.wrap(address, size);
    }

    /** Zero-filled private anonymous memory; pages are committed only when touched (MAP_NORESERVE). */
    public static NativeMapping anonymous(long size) {
        return map("mmap(anonymous)", size, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_NORESERVE, -1);
    }

    /** A shared mapping of {@code fd} from offset 0 (a vCPU fd's kvm_run). */
    static NativeMapping ofFile(String what, int fd, long size) {
        return map(what, size, LibC.MAP_SHARED, fd);
    }

    private static NativeMapping map(String what, long size, int flags, int fd) {
        long address = Posix.LIBC.mmap(null, size, LibC.PROT_READ | LibC.PROT_WRITE, flags, fd, 0);
        if (address == LibC.MAP_FAILED) {
            throw new KvmException(what, Posix.errno());
        }
        return new NativeMapping(address, size, fd == -1);
    }

    public long address() {
        return address;
    }

    public long size() {
        return size;
    }

    /** The mapping as jnr memory, bounds-checked against its size. */
    public Pointer pointer() {
        return pointer;
    }

    /**
     * The pages of an {@link #anonymous} mapping (numbered from its start, 4 KiB each) that the kernel holds, in RAM
     * or swapped out, as /proc/self/pagemap tells: any other page of a private anonymous mapping has never been
     * touched and reads as zero. Cheap where most of the mapping is untouched (the kernel skips unpopulated page
     * tables). A page touched after the call is not in the answer: a caller that must know learns it otherwise.
     *
     * @throws IllegalStateException a shared file mapping, whose pages may hold data without being mapped here
     * @throws UncheckedIOException  /proc/self/pagemap could not be read
     */
    public synchronized BitSet populatedPages() {
        if (!anonymous || unmapped) {
            throw new IllegalStateException("only a mapped anonymous mapping has its untouched pages zero");
        }
        int pages = Math.toIntExact(size / PAGE_SIZE);
        BitSet populated = new BitSet(pages);
        ByteBuffer entries = ByteBuffer.allocateDirect(PAGEMAP_ENTRIES_PER_READ * Long.BYTES)
                .order(ByteOrder.nativeOrder());
        try (FileChannel pagemap = FileChannel.open(PAGEMAP, StandardOpenOption.READ)) {
            for (int first = 0; first < pages; first += PAGEMAP_ENTRIES_PER_READ) {
                int count = Math.min(PAGEMAP_ENTRIES_PER_READ, pages - first);
                entries.clear().limit(count * Long.BYTES);
                long offset = (address / PAGE_SIZE + first) * Long.BYTES;
                while (entries.hasRemaining()) {
                    if (pagemap.read(entries, offset + entries.position()) < 0) {
                        throw new EOFException(PAGEMAP + " ended at offset " + (offset + entries.position()));
                    }
                }
                for (int i = 0; i < count; i++) {
                    if ((entries.getLong(i * Long.BYTES) & (PAGEMAP_PRESENT | PAGEMAP_SWAPPED)) != 0) {
                        populated.set(first + i);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + PAGEMAP, e);
        }
        return populated;
    }

    @Override
    public synchronized void close() {
        if (unmapped) {
            return;
        }
        unmapped = true;
        if (Posix.LIBC.munmap(address, size) != 0) {
            throw new KvmException("munmap", Posix.errno());
        }
    }
}
