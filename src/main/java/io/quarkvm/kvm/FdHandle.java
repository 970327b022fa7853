package io.quarkvm.kvm;

import jnr.ffi.Pointer;

/**
 * A file descriptor of /dev/kvm, a VM or a vCPU: issues ioctls on it, turns failures into {@link KvmException}
 * and closes it once. After close every ioctl fails with EBADF without reaching the kernel, so a descriptor number
 * reused by someone else is never touched.
 */
abstract class FdHandle implements AutoCloseable {

    private final int fd;
    private volatile boolean closed;

    FdHandle(int fd) {
        this.fd = fd;
    }

    final int fd() {
        return fd;
    }

    final int ioctl(String name, long request, Pointer argument) {
        requireOpen(name);
        int result = Posix.LIBC.ioctl(fd, request, argument);
        if (result < 0) {
            throw new KvmException(name, Posix.errno());
        }
        return result;
    }

    final int ioctl(String name, long request, long argument) {
        requireOpen(name);
        int result = Posix.LIBC.ioctl(fd, request, argument);
        if (result < 0) {
            throw new KvmException(name, Posix.errno());
        }
        return result;
    }

    final void requireOpen(String name) {
        if (closed) {
            throw new KvmException(name, Errno.EBADF);
        }
    }

    /** Closes the descriptor; later calls do nothing. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        releaseResources();
        if (Posix.LIBC.close(fd) != 0) {
            throw new KvmException("close", Posix.errno());
        }
    }

    /** What a subclass owns besides the descriptor (a vCPU's kvm_run mapping), released before the close. */
    void releaseResources() {
    }
}
