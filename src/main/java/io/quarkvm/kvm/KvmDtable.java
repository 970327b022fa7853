package io.quarkvm.kvm;

import jnr.ffi.Pointer;

/** struct kvm_dtable (asm/kvm.h): a descriptor-table register (GDTR, IDTR), 16 bytes. */
public final class KvmDtable {

    public static final int SIZE = 16;
    private static final int BASE = 0;
    private static final int LIMIT = 8;

    public static final StructLayout LAYOUT = StructLayout.of("struct kvm_dtable", SIZE)
            .field("base", BASE).field("limit", LIMIT).build();

    public long base;
    public int limit;

    void writeTo(Pointer memory, long offset) {
        memory.putLongLong(offset + BASE, base);
        memory.putShort(offset + LIMIT, (short) limit);
    }

    static KvmDtable readFrom(Pointer memory, long offset) {
        KvmDtable table = new KvmDtable();
        table.base = memory.getLongLong(offset + BASE);
        table.limit = Short.toUnsignedInt(memory.getShort(offset + LIMIT));
        return table;
    }
}
