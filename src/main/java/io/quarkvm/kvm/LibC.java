package io.quarkvm.kvm;

import jnr.ffi.LibraryLoader;
import jnr.ffi.LibraryOption;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.Variadic;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import jnr.ffi.types.u_int64_t;

/**
 * The few libc functions the KVM bindings and the emulated backend need. errno is saved by jnr-ffi after every call and must be read with
 * {@link #lastErrno()} on the same thread, right after the call (nothing here is {@code @IgnoreError}).
 */
public interface LibC {

    int O_RDWR = 0x2;
    int O_CLOEXEC = 0x80000;

    int PROT_READ = 0x1;
    int PROT_WRITE = 0x2;
    int MAP_SHARED = 0x01;
    int MAP_PRIVATE = 0x02;
    int MAP_ANONYMOUS = 0x20;
    int MAP_NORESERVE = 0x4000;
    long MAP_FAILED = -1L;

    int SIG_BLOCK = 0;
    /** glibc's sigset_t is 1024 bits. */
    int GLIBC_SIGSET_BYTES = 128;
    /** The kernel's sigset (what KVM_SET_SIGNAL_MASK takes on x86-64) is 64 bits: the first 8 bytes of glibc's. */
    int KERNEL_SIGSET_BYTES = 8;
    /** struct timespec on x86-64: two 64-bit fields. */
    int TIMESPEC_BYTES = 16;

    /** x86-64 system call numbers (asm/unistd_64.h). */
    long SYS_gettid = 186;
    long SYS_tgkill = 234;

    int open(String path, int flags);

    int close(int fd);

    /**
     * {@code int ioctl(int fd, unsigned long request, ...)}: variadic after the request, which is unsigned 64-bit so
     * that _IOR/_IOW codes (bit 31 set) are not sign-extended.
     */
    @Variadic(fixedCount = 2)
    int ioctl(int fd, @u_int64_t long request, Pointer argument);

    /** The same ioctl with an integer argument (KVM_CHECK_EXTENSION, KVM_CREATE_VCPU). */
    @Variadic(fixedCount = 2)
    int ioctl(int fd, @u_int64_t long request, @u_int64_t long argument);

    /**
     * Returns the mapping's address, or {@link #MAP_FAILED}. The hint is a Pointer (pass null): declared as a Java
     * long, jnr-ffi 2.2.17 passes this six-argument call wrongly and mmap fails with EINVAL (measured).
     */
    long mmap(Pointer addressHint, @size_t long length, int protection, int flags, int fd, @off_t long offset);

    int munmap(@u_int64_t long address, @size_t long length);

    /** {@code memcmp} of two native regions given by address. */
    int memcmp(@u_int64_t long first, @u_int64_t long second, @size_t long length);

    /** {@code memcpy} between native regions given by address; returns {@code destination}. */
    @u_int64_t long memcpy(@u_int64_t long destination, @u_int64_t long source, @size_t long length);

    /** {@code syscall(SYS_gettid)}. */
    @Variadic(fixedCount = 1)
    long syscall(long number);

    /** {@code syscall(SYS_tgkill, tgid, tid, sig)}. */
    @Variadic(fixedCount = 1)
    long syscall(long number, long tgid, long tid, long signal);

    int getpid();

    int pthread_sigmask(int how, Pointer set, Pointer oldSet);

    int sigemptyset(Pointer set);

    int sigaddset(Pointer set, int signal);

    int sigdelset(Pointer set, int signal);

    /** Returns the signal number taken, or -1 with errno EAGAIN when none was pending before the timeout. */
    int sigtimedwait(Pointer set, Pointer info, Pointer timeout);

    /** SIGRTMIN as glibc sees it (it reserves the first real-time signals for itself). */
    int __libc_current_sigrtmin();

    String strerror(int errno);
}
