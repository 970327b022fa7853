package io.quarkvm.kvm;

import jnr.ffi.Pointer;

/**
 * struct kvm_userspace_memory_region (linux/kvm.h): maps {@code memorySize} bytes of this process at
 * {@code userspaceAddress} into guest-physical memory at {@code guestPhysicalAddress} as memory slot {@code slot}.
 */
public record KvmUserspaceMemoryRegion(int slot, int flags, long guestPhysicalAddress, long memorySize,
                                       long userspaceAddress) {

    /** KVM_MEM_LOG_DIRTY_PAGES (linux/kvm.h): keep a dirty log of the slot for KVM_GET_DIRTY_LOG. */
    public static final int LOG_DIRTY_PAGES = 1;

    public static final int SIZE = 32;
    private static final int SLOT = 0;
    private static final int FLAGS = 4;
    private static final int GUEST_PHYS_ADDR = 8;
    private static final int MEMORY_SIZE = 16;
    private static final int USERSPACE_ADDR = 24;

    public static final StructLayout LAYOUT = StructLayout.of("struct kvm_userspace_memory_region", SIZE)
            .field("slot", SLOT).field("flags", FLAGS).field("guest_phys_addr", GUEST_PHYS_ADDR)
            .field("memory_size", MEMORY_SIZE).field("userspace_addr", USERSPACE_ADDR).build();

    Pointer toNative() {
        Pointer memory = Posix.allocate(SIZE);
        memory.putInt(SLOT, slot);
        memory.putInt(FLAGS, flags);
        memory.putLongLong(GUEST_PHYS_ADDR, guestPhysicalAddress);
        memory.putLongLong(MEMORY_SIZE, memorySize);
        memory.putLongLong(USERSPACE_ADDR, userspaceAddress);
        return memory;
    }
}
