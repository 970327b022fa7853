package io.quarkvm.kvm;

import jnr.ffi.Pointer;

/** struct kvm_segment (asm/kvm.h): a segment register as KVM sees it, 24 bytes. */
public final class KvmSegment {

    public static final int SIZE = 24;
    private static final int BASE = 0;
    private static final int LIMIT = 8;
    private static final int SELECTOR = 12;
    private static final int TYPE = 14;
    private static final int PRESENT = 15;
    private static final int DPL = 16;
    private static final int DB = 17;
    private static final int S = 18;
    private static final int L = 19;
    private static final int G = 20;
    private static final int AVL = 21;
    private static final int UNUSABLE = 22;

    public static final StructLayout LAYOUT = StructLayout.of("struct kvm_segment", SIZE)
            .field("base", BASE).field("limit", LIMIT).field("selector", SELECTOR).field("type", TYPE)
            .field("present", PRESENT).field("dpl", DPL).field("db", DB).field("s", S).field("l", L)
            .field("g", G).field("avl", AVL).field("unusable", UNUSABLE).build();

    public long base;
    public int limit;
    public int selector;
    public int type;
    public boolean present;
    public int dpl;
    public boolean db;
    /** Code/data (true) rather than system segment. */
    public boolean s;
    /** 64-bit code segment. */
    public boolean l;
    public boolean g;
    public boolean avl;
    public boolean unusable;

    void writeTo(Pointer memory, long offset) {
        memory.putLongLong(offset + BASE, base);
        memory.putInt(offset + LIMIT, limit);
        memory.putShort(offset + SELECTOR, (short) selector);
        memory.putByte(offset + TYPE, (byte) type);
        memory.putByte(offset + PRESENT, flag(present));
        memory.putByte(offset + DPL, (byte) dpl);
        memory.putByte(offset + DB, flag(db));
        memory.putByte(offset + S, flag(s));
        memory.putByte(offset + L, flag(l));
        memory.putByte(offset + G, flag(g));
        memory.putByte(offset + AVL, flag(avl));
        memory.putByte(offset + UNUSABLE, flag(unusable));
    }

    static KvmSegment readFrom(Pointer memory, long offset) {
        KvmSegment segment = new KvmSegment();
        segment.base = memory.getLongLong(offset + BASE);
        segment.limit = memory.getInt(offset + LIMIT);
        segment.selector = Short.toUnsignedInt(memory.getShort(offset + SELECTOR));
        segment.type = Byte.toUnsignedInt(memory.getByte(offset + TYPE));
        segment.present = memory.getByte(offset + PRESENT) != 0;
        segment.dpl = Byte.toUnsignedInt(memory.getByte(offset + DPL));
        segment.db = memory.getByte(offset + DB) != 0;
        segment.s = memory.getByte(offset + S) != 0;
        segment.l = memory.getByte(offset + L) != 0;
        segment.g = memory.getByte(offset + G) != 0;
        segment.avl = memory.getByte(offset + AVL) != 0;
        segment.unusable = memory.getByte(offset + UNUSABLE) != 0;
        return segment;
    }

    private static byte flag(boolean value) {
        return (byte) (value ? 1 : 0);
    }
}
