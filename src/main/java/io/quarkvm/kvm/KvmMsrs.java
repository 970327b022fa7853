package io.quarkvm.kvm;

import java.util.ArrayList;
import java.util.List;
import jnr.ffi.Pointer;

/** struct kvm_msrs (asm/kvm.h): __u32 nmsrs, __u32 pad, then nmsrs struct kvm_msr_entry of 16 bytes. */
public final class KvmMsrs {

    private static final int NMSRS = 0;
    private static final int ENTRIES = 8;
    public static final int HEADER_SIZE = 8;

    public static final int ENTRY_SIZE = 16;
    private static final int INDEX = 0;
    private static final int DATA = 8;

    public static final StructLayout LAYOUT = StructLayout.of("struct kvm_msrs", HEADER_SIZE)
            .field("nmsrs", NMSRS).field("entries", ENTRIES).build();
    public static final StructLayout ENTRY_LAYOUT = StructLayout.of("struct kvm_msr_entry", ENTRY_SIZE)
            .field("index", INDEX).field("data", DATA).build();

    private KvmMsrs() {
    }

    static Pointer write(List<MsrEntry> entries) {
        Pointer memory = Posix.allocate(HEADER_SIZE + entries.size() * ENTRY_SIZE);
        memory.putInt(NMSRS, entries.size());
        for (int i = 0; i < entries.size(); i++) {
            long at = ENTRIES + (long) i * ENTRY_SIZE;
            memory.putInt(at + INDEX, entries.get(i).index());
            memory.putLongLong(at + DATA, entries.get(i).data());
        }
        return memory;
    }

    /** The first {@code count} entries (KVM_GET_MSRS returns how many it read). */
    static List<MsrEntry> read(Pointer memory, int count) {
        List<MsrEntry> entries = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            long at = ENTRIES + (long) i * ENTRY_SIZE;
            entries.add(new MsrEntry(memory.getInt(at + INDEX), memory.getLongLong(at + DATA)));
        }
        return entries;
    }
}
