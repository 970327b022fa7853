package io.quarkvm.kvm;

import java.util.ArrayList;
import java.util.List;
import jnr.ffi.Pointer;

/** struct kvm_cpuid2 (asm/kvm.h): __u32 nent, __u32 padding, then nent struct kvm_cpuid_entry2 of 40 bytes. */
public final class KvmCpuid2 {

    private static final int NENT = 0;
    private static final int ENTRIES = 8;
    public static final int HEADER_SIZE = 8;

    public static final int ENTRY_SIZE = 40;
    private static final int FUNCTION = 0;
    private static final int INDEX = 4;
    private static final int FLAGS = 8;
    private static final int EAX = 12;
    private static final int EBX = 16;
    private static final int ECX = 20;
    private static final int EDX = 24;

    public static final StructLayout LAYOUT = StructLayout.of("struct kvm_cpuid2", HEADER_SIZE)
            .field("nent", NENT).field("entries", ENTRIES).build();
    public static final StructLayout ENTRY_LAYOUT = StructLayout.of("struct kvm_cpuid_entry2", ENTRY_SIZE)
            .field("function", FUNCTION).field("index", INDEX).field("flags", FLAGS).field("eax", EAX)
            .field("ebx", EBX).field("ecx", ECX).field("edx", EDX).build();

    private KvmCpuid2() {
    }

    /** Room for {@code capacity} entries, nent set to the capacity (what KVM_GET_* expects). */
    static Pointer allocate(int capacity) {
        Pointer memory = Posix.allocate(HEADER_SIZE + capacity * ENTRY_SIZE);
        memory.putInt(NENT, capacity);
        return memory;
    }

    static Pointer write(List<CpuidEntry> entries) {
        Pointer memory = allocate(entries.size());
        for (int i = 0; i < entries.size(); i++) {
            CpuidEntry entry = entries.get(i);
            long at = ENTRIES + (long) i * ENTRY_SIZE;
            memory.putInt(at + FUNCTION, entry.function());
            memory.putInt(at + INDEX, entry.index());
            memory.putInt(at + FLAGS, entry.flags());
            memory.putInt(at + EAX, entry.eax());
            memory.putInt(at + EBX, entry.ebx());
            memory.putInt(at + ECX, entry.ecx());
            memory.putInt(at + EDX, entry.edx());
        }
        return memory;
    }

    static List<CpuidEntry> read(Pointer memory) {
        int count = memory.getInt(NENT);
        List<CpuidEntry> entries = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            long at = ENTRIES + (long) i * ENTRY_SIZE;
            entries.add(new CpuidEntry(memory.getInt(at + FUNCTION), memory.getInt(at + INDEX),
                    memory.getInt(at + FLAGS), memory.getInt(at + EAX), memory.getInt(at + EBX),
                    memory.getInt(at + ECX), memory.getInt(at + EDX)));
        }
        return entries;
    }
}
