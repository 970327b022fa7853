package io.quarkvm.kvm;

import jnr.ffi.Pointer;

/**
 * struct kvm_dirty_log (linux/kvm.h): __u32 slot; __u32 padding1; union { void *dirty_bitmap; __u64 padding2; }.
 * The bitmap has one bit per 4 KiB page of the slot, in 64-bit words (KVM copies ALIGN(npages, 64) / 8 bytes).
 */
final class KvmDirtyLog {

    static final int SIZE = 16;
    static final int PAGE_SIZE = 4096;
    private static final int SLOT = 0;
    private static final int DIRTY_BITMAP = 8;

    static final StructLayout LAYOUT = StructLayout.of("struct kvm_dirty_log", SIZE)
            .field("slot", SLOT).field("dirty_bitmap", DIRTY_BITMAP).build();

    private KvmDirtyLog() {
    }

    static Pointer toNative(int slot, Pointer bitmap) {
        Pointer memory = Posix.allocate(SIZE);
        memory.putInt(SLOT, slot);
        memory.putPointer(DIRTY_BITMAP, bitmap);
        return memory;
    }
}
