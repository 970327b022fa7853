package io.quarkvm.kvm;

/** A KVM ioctl (or the libc call around it) failed; carries the call's name and errno. */
public final class KvmException extends RuntimeException {

    private final String call;
    private final int errno;

    public KvmException(String call, int errno) {
        super(call + " failed: " + Errno.name(errno) + " (" + Posix.LIBC.strerror(errno) + ")");
        this.call = call;
        this.errno = errno;
    }

    /** The ioctl or libc function, e.g. "KVM_RUN" or "open(/dev/kvm)". */
    public String call() {
        return call;
    }

    public int errno() {
        return errno;
    }
}
