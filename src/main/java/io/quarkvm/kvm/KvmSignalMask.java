package io.quarkvm.kvm;

import jnr.ffi.Pointer;

/**
 * struct kvm_signal_mask (linux/kvm.h): __u32 len, then len bytes of sigset. KVM accepts only the kernel's sigset
 * size, 8 bytes on x86-64.
 */
public final class KvmSignalMask {

    private static final int LEN = 0;
    private static final int SIGSET = 4;
    public static final int HEADER_SIZE = 4;

    public static final StructLayout LAYOUT = StructLayout.of("struct kvm_signal_mask", HEADER_SIZE)
            .field("len", LEN).field("sigset", SIGSET).build();

    private KvmSignalMask() {
    }

    /** The kernel sigset {@code mask} (bit n-1 = signal n) as a kvm_signal_mask. */
    static Pointer toNative(long mask) {
        Pointer memory = Posix.allocate(HEADER_SIZE + LibC.KERNEL_SIGSET_BYTES);
        memory.putInt(LEN, LibC.KERNEL_SIGSET_BYTES);
        memory.putLongLong(SIGSET, mask);
        return memory;
    }
}
