package io.quarkvm.kvm;

import jnr.ffi.Pointer;

/** struct kvm_sregs (asm/kvm.h): segment, descriptor-table and control registers, EFER and APIC base. */
public final class KvmSregs {

    private static final int CS = 0;
    private static final int DS = CS + KvmSegment.SIZE;
    private static final int ES = DS + KvmSegment.SIZE;
    private static final int FS = ES + KvmSegment.SIZE;
    private static final int GS = FS + KvmSegment.SIZE;
    private static final int SS = GS + KvmSegment.SIZE;
    private static final int TR = SS + KvmSegment.SIZE;
    private static final int LDT = TR + KvmSegment.SIZE;
    private static final int GDT = LDT + KvmSegment.SIZE;
    private static final int IDT = GDT + KvmDtable.SIZE;
    private static final int CR0 = IDT + KvmDtable.SIZE;
    private static final int CR2 = CR0 + 8;
    private static final int CR3 = CR2 + 8;
    private static final int CR4 = CR3 + 8;
    private static final int CR8 = CR4 + 8;
    private static final int EFER = CR8 + 8;
    private static final int APIC_BASE = EFER + 8;
    /** __u64 interrupt_bitmap[(KVM_NR_INTERRUPTS + 63) / 64], KVM_NR_INTERRUPTS = 256. */
    private static final int INTERRUPT_BITMAP = APIC_BASE + 8;
    public static final int SIZE = INTERRUPT_BITMAP + 4 * 8;

    public static final StructLayout LAYOUT = StructLayout.of("struct kvm_sregs", SIZE)
            .field("cs", CS).field("ds", DS).field("es", ES).field("fs", FS).field("gs", GS).field("ss", SS)
            .field("tr", TR).field("ldt", LDT).field("gdt", GDT).field("idt", IDT)
            .field("cr0", CR0).field("cr2", CR2).field("cr3", CR3).field("cr4", CR4).field("cr8", CR8)
            .field("efer", EFER).field("apic_base", APIC_BASE).field("interrupt_bitmap", INTERRUPT_BITMAP).build();

    public KvmSegment cs, ds, es, fs, gs, ss, tr, ldt;
    public KvmDtable gdt, idt;
    public long cr0, cr2, cr3, cr4, cr8, efer, apicBase;
    /** Pending external interrupts; copied back unchanged on a get/modify/set cycle. */
    private final long[] interruptBitmap = new long[4];

    /** The pending-interrupt bitmap (four __u64), a copy: what a saved vCPU state must carry. */
    public long[] interruptBitmap() {
        return interruptBitmap.clone();
    }

    /** Sets the pending-interrupt bitmap, as restoring a saved vCPU state does. */
    public void setInterruptBitmap(long[] bitmap) {
        if (bitmap.length != interruptBitmap.length) {
            throw new IllegalArgumentException("interrupt_bitmap has " + interruptBitmap.length + " words, not "
                    + bitmap.length);
        }
        System.arraycopy(bitmap, 0, interruptBitmap, 0, interruptBitmap.length);
    }

    void writeTo(Pointer memory) {
        cs.writeTo(memory, CS);
        ds.writeTo(memory, DS);
        es.writeTo(memory, ES);
        fs.writeTo(memory, FS);
        gs.writeTo(memory, GS);
        ss.writeTo(memory, SS);
        tr.writeTo(memory, TR);
        ldt.writeTo(memory, LDT);
        gdt.writeTo(memory, GDT);
        idt.writeTo(memory, IDT);
        memory.putLongLong(CR0, cr0);
        memory.putLongLong(CR2, cr2);
        memory.putLongLong(CR3, cr3);
        memory.putLongLong(CR4, cr4);
        memory.putLongLong(CR8, cr8);
        memory.putLongLong(EFER, efer);
        memory.putLongLong(APIC_BASE, apicBase);
        memory.put(INTERRUPT_BITMAP, interruptBitmap, 0, interruptBitmap.length);
    }

    static KvmSregs readFrom(Pointer memory) {
        KvmSregs sregs = new KvmSregs();
        sregs.cs = KvmSegment.readFrom(memory, CS);
        sregs.ds = KvmSegment.readFrom(memory, DS);
        sregs.es = KvmSegment.readFrom(memory, ES);
        sregs.fs = KvmSegment.readFrom(memory, FS);
        sregs.gs = KvmSegment.readFrom(memory, GS);
        sregs.ss = KvmSegment.readFrom(memory, SS);
        sregs.tr = KvmSegment.readFrom(memory, TR);
        sregs.ldt = KvmSegment.readFrom(memory, LDT);
        sregs.gdt = KvmDtable.readFrom(memory, GDT);
        sregs.idt = KvmDtable.readFrom(memory, IDT);
        sregs.cr0 = memory.getLongLong(CR0);
        sregs.cr2 = memory.getLongLong(CR2);
        sregs.cr3 = memory.getLongLong(CR3);
        sregs.cr4 = memory.getLongLong(CR4);
        sregs.cr8 = memory.getLongLong(CR8);
        sregs.efer = memory.getLongLong(EFER);
        sregs.apicBase = memory.getLongLong(APIC_BASE);
        memory.get(INTERRUPT_BITMAP, sregs.interruptBitmap, 0, sregs.interruptBitmap.length);
        return sregs;
    }
}
