package io.quarkvm.kvm;

import jnr.ffi.Pointer;

/**
 * The signal plumbing that lets another thread interrupt a vCPU thread inside KVM_RUN without a signal handler
 * (ARCHITECTURE.md, "Kicking a vCPU out of KVM_RUN"): the vCPU thread blocks the kick signal, KVM_RUN runs with a
 * mask that unblocks it, so it can only be delivered there, where it makes KVM_RUN return EINTR; the thread then
 * takes the pending signal with sigtimedwait. Nothing runs in signal context.
 */
public final class ThreadSignals {

    private ThreadSignals() {
    }

    /** The kick signal quarkvm uses: SIGRTMIN+3, which neither glibc nor HotSpot use. */
    public static int kickSignal() {
        return Posix.LIBC.__libc_current_sigrtmin() + 3;
    }

    /** The calling thread's kernel thread id. */
    public static int currentThreadId() {
        return (int) Posix.LIBC.syscall(LibC.SYS_gettid);
    }

    public static int processId() {
        return Posix.LIBC.getpid();
    }

    /**
     * Blocks {@code signal} for the calling thread and returns the kernel sigset (bit n-1 = signal n) KVM_RUN should
     * run with: the thread's mask without {@code signal}.
     */
    public static long blockForCurrentThread(int signal) {
        Pointer set = sigset(signal);
        Pointer previous = Posix.allocate(LibC.GLIBC_SIGSET_BYTES);
        int error = Posix.LIBC.pthread_sigmask(LibC.SIG_BLOCK, set, previous);
        if (error != 0) {
            throw new KvmException("pthread_sigmask", error);
        }
        if (Posix.LIBC.sigdelset(previous, signal) != 0) {
            throw new KvmException("sigdelset", Posix.errno());
        }
        return previous.getLongLong(0);
    }

    /** Sends {@code signal} to one thread of this process (tgkill). ESRCH: the thread has ended. */
    public static void signalThread(int processId, int threadId, int signal) {
        if (Posix.LIBC.syscall(LibC.SYS_tgkill, processId, threadId, signal) != 0) {
            throw new KvmException("tgkill", Posix.errno());
        }
    }

    /**
     * Takes every pending instance of {@code signal} of the calling thread without waiting; true if there was any.
     * Real-time signals queue: two kicks sent while the thread was outside KVM_RUN are two pending instances, and
     * one left behind would be delivered with its default action (ending the JVM) once the mask is lifted.
     */
    public static boolean drainPending(int signal) {
        boolean drained = false;
        while (takePending(signal)) {
            drained = true;
        }
        return drained;
    }

    private static boolean takePending(int signal) {
        Pointer noWait = Posix.allocate(LibC.TIMESPEC_BYTES);
        int taken = Posix.LIBC.sigtimedwait(sigset(signal), null, noWait);
        if (taken == signal) {
            return true;
        }
        int errno = Posix.errno();
        if (errno == Errno.EAGAIN || errno == Errno.EINTR) {
            return false;
        }
        throw new KvmException("sigtimedwait", errno);
    }

    private static Pointer sigset(int signal) {
        Pointer set = Posix.allocate(LibC.GLIBC_SIGSET_BYTES);
        if (Posix.LIBC.sigemptyset(set) != 0 || Posix.LIBC.sigaddset(set, signal) != 0) {
            throw new KvmException("sigaddset", Posix.errno());
        }
        return set;
    }
}
