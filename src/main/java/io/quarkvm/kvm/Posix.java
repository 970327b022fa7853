package io.quarkvm.kvm;

import jnr.ffi.LibraryLoader;
import jnr.ffi.LibraryOption;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;

/** The process-wide libc binding, its jnr runtime, and errno. */
public final class Posix {

    public static final LibC LIBC = LibraryLoader.create(LibC.class)
            .option(LibraryOption.SaveError, true)
            .load("c");

    public static final Runtime RUNTIME = Runtime.getRuntime(LIBC);

    private Posix() {
    }

    /** errno of the last libc call made on the current thread; call it right after the failing call. */
    public static int errno() {
        return RUNTIME.getLastError();
    }

    /** Zeroed native memory owned by the garbage collector, for one ioctl argument. */
    public static Pointer allocate(int size) {
        return Memory.allocateDirect(RUNTIME, size, true);
    }

    /** Wraps native memory this process mapped itself (guest memory, kvm_run). */
    public static Pointer wrap(long address, long size) {
        return Pointer.wrap(RUNTIME, address, size);
    }
}
