package io.quarkvm.vmm;

import io.quarkvm.kvm.KvmUserspaceMemoryRegion;
import io.quarkvm.kvm.NativeMapping;
import io.quarkvm.kvm.HypervisorVm;
import java.util.BitSet;
import java.util.Objects;
import java.util.function.Consumer;
import jnr.ffi.Pointer;

/**
 * A VM's RAM: one anonymous mapping registered as memory slot 0 at guest-physical 0, and the boot structures of
 * {@link GuestLayout} written into it (page tables, GDT, IDT, guest code, the memory size in the boot parameters).
 */
final class GuestMemory implements AutoCloseable {

    // Page-table entry bits (Intel SDM vol. 3, 4.5).
    private static final long PRESENT = 1;
    private static final long WRITABLE = 1 << 1;
    private static final long LARGE_PAGE = 1 << 7;

    // 64-bit GDT descriptors (Intel SDM vol. 3, 3.4.5): base 0, limit 0xFFFFF pages.
    /** Code: present, DPL 0, code execute/read accessed (type 0xB), L = 1 (64-bit), G = 1. */
    private static final long GDT_CODE_64 = 0x00AF_9B00_0000_FFFFL;
    /** Data: present, DPL 0, data read/write accessed (type 0x3), D/B = 1, G = 1. */
    private static final long GDT_DATA = 0x00CF_9300_0000_FFFFL;
    /** Interrupt gate, present, DPL 0 (type 0xE): clears IF on entry. */
    private static final int IDT_INTERRUPT_GATE = 0x8E;

    private final NativeMapping mapping;
    private final Pointer memory;
    /** Guarded by this. */
    private boolean released;

    private GuestMemory(NativeMapping mapping) {
        this.mapping = mapping;
        this.memory = mapping.pointer();
    }

    /** Maps {@code bytes} of RAM into {@code vm} and lays out {@code program} to boot. */
    static GuestMemory create(HypervisorVm vm, long bytes, GuestProgram program) {
        return map(vm, bytes, guestMemory -> guestMemory.writeBootStructures(program));
    }

    /** Maps {@code bytes} of RAM into {@code vm}, every page zero: for a VM whose memory arrives from another. */
    static GuestMemory zeroed(HypervisorVm vm, long bytes) {
        return map(vm, bytes, guestMemory -> { });
    }

    private static GuestMemory map(HypervisorVm vm, long bytes, Consumer<GuestMemory> fill) {
        if (bytes < GuestLayout.MIN_MEMORY || bytes % GuestLayout.LARGE_PAGE != 0) {
            throw new IllegalArgumentException("guest memory must be a multiple of 2 MiB, at least 2 MiB: " + bytes);
        }
        NativeMapping mapping = NativeMapping.anonymous(bytes);
        try {
            GuestMemory guestMemory = new GuestMemory(mapping);
            vm.setUserMemoryRegion(guestMemory.slot(0));
            fill.accept(guestMemory);
            return guestMemory;
        } catch (RuntimeException e) {
            mapping.close();
            throw e;
        }
    }

    long size() {
        return mapping.size();
    }

    /**
     * This RAM as memory slot 0 at guest-physical 0, with these KVM_MEM_* flags: setting it again with other flags
     * (only those) is what KVM calls a flags-only change of the slot (KVM_MR_FLAGS_ONLY).
     */
    KvmUserspaceMemoryRegion slot(int flags) {
        return new KvmUserspaceMemoryRegion(0, flags, 0, mapping.size(), mapping.address());
    }

    private void writeBootStructures(GuestProgram program) {
        // Identity map: PML4[0] → PDPT, PDPT[0] → page directory, PD[i] → the 2 MiB page at i × 2 MiB.
        memory.putLongLong(GuestLayout.PML4, GuestLayout.PDPT | PRESENT | WRITABLE);
        memory.putLongLong(GuestLayout.PDPT, GuestLayout.PAGE_DIRECTORY | PRESENT | WRITABLE);
        long mapped = Math.min(size(), GuestLayout.MAX_MAPPED);
        for (long page = 0; page * GuestLayout.LARGE_PAGE < mapped; page++) {
            memory.putLongLong(GuestLayout.PAGE_DIRECTORY + page * 8,
                    page * GuestLayout.LARGE_PAGE | PRESENT | WRITABLE | LARGE_PAGE);
        }

        memory.putLongLong(GuestLayout.BOOT_PARAMETERS + GuestLayout.MEMORY_BYTES, size());

        memory.putLongLong(GuestLayout.GDT + GuestLayout.GDT_CODE_SELECTOR, GDT_CODE_64);
        memory.putLongLong(GuestLayout.GDT + GuestLayout.GDT_DATA_SELECTOR, GDT_DATA);

        byte[] code = program.code();
        memory.put(GuestLayout.CODE, code, 0, code.length);
        program.gpHandlerOffset().ifPresent(offset ->
                writeInterruptGate(GuestLayout.VECTOR_GP, GuestLayout.CODE + offset));
    }

    /** A 16-byte 64-bit IDT gate (Intel SDM vol. 3, 6.14.1) to {@code handler} in the code segment. */
    private void writeInterruptGate(int vector, long handler) {
        long gate = GuestLayout.IDT + (long) vector * GuestLayout.IDT_GATE_SIZE;
        memory.putShort(gate, (short) handler);                          // offset 15:0
        memory.putShort(gate + 2, (short) GuestLayout.GDT_CODE_SELECTOR); // segment selector
        memory.putByte(gate + 4, (byte) 0);                              // IST 0: stay on the current stack
        memory.putByte(gate + 5, (byte) IDT_INTERRUPT_GATE);             // type, DPL, present
        memory.putShort(gate + 6, (short) (handler >>> 16));             // offset 31:16
        memory.putInt(gate + 8, (int) (handler >>> 32));                 // offset 63:32
        memory.putInt(gate + 12, 0);                                     // reserved
    }

    /** Reads guest memory; fails once it is released rather than touching an unmapped address. */
    synchronized long readLong(long guestPhysical) {
        requireMapped();
        return memory.getLongLong(guestPhysical);
    }

    synchronized void writeLong(long guestPhysical, long value) {
        requireMapped(guestPhysical, Long.BYTES);
        memory.putLongLong(guestPhysical, value);
    }

    synchronized int readInt(long guestPhysical) {
        requireMapped();
        return memory.getInt(guestPhysical);
    }

    /** Copies {@code into.length} bytes of guest memory from {@code guestPhysical}. */
    synchronized void read(long guestPhysical, byte[] into) {
        requireMapped(guestPhysical, into.length);
        memory.get(guestPhysical, into, 0, into.length);
    }

    /** The pages that may hold anything but zero: those the host has populated ({@link NativeMapping#populatedPages}). */
    synchronized BitSet populatedPages() {
        requireMapped();
        return mapping.populatedPages();
    }

    /** Copies {@code length} bytes of {@code bytes} from {@code offset} into guest memory at {@code guestPhysical}. */
    synchronized void write(long guestPhysical, byte[] bytes, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, bytes.length);
        requireMapped(guestPhysical, length);
        memory.put(guestPhysical, bytes, offset, length);
    }

    /** Sets {@code length} bytes of guest memory from {@code guestPhysical} to zero. */
    synchronized void zero(long guestPhysical, int length) {
        requireMapped(guestPhysical, length);
        memory.setMemory(guestPhysical, length, (byte) 0);
    }

    private void requireMapped(long guestPhysical, int length) {
        requireMapped();
        if (guestPhysical < 0 || length < 0 || guestPhysical > mapping.size() - length) {
            throw new IllegalArgumentException("guest-physical 0x" + Long.toHexString(guestPhysical) + " (" + length
                    + " bytes) lies outside the VM's " + mapping.size() + " bytes");
        }
    }

    private void requireMapped() {
        if (released) {
            throw new IllegalStateException("the VM has stopped: its guest memory is released");
        }
    }

    /** Releases the RAM; no vCPU may run any more (their threads have ended, the VM fd is closed first). */
    @Override
    public synchronized void close() {
        released = true;
        mapping.close();
    }
}
