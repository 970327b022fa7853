package io.quarkvm.kvm;

import jnr.ffi.Pointer;

/** One mmap'ed region of this process (guest memory, a vCPU's kvm_run), unmapped exactly once by {@link #close}. */
public final class NativeMapping implements AutoCloseable {

    private final long address;
    private final long size;
    private final Pointer pointer;
    private boolean unmapped;

    private NativeMapping(long address, long size) {
        this.address = address;
        this.size = size;
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
        return new NativeMapping(address, size);
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
