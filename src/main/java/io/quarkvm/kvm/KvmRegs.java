package io.quarkvm.kvm;

import jnr.ffi.Pointer;

/** struct kvm_regs (asm/kvm.h): the general-purpose registers, rip and rflags, eighteen __u64 in this order. */
public final class KvmRegs {

    private static final String[] FIELDS = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
            "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"};

    public static final int SIZE = FIELDS.length * 8;
    public static final StructLayout LAYOUT = layout();

    /** Bit 1 of RFLAGS is reserved and always set. */
    public static final long RFLAGS_RESERVED = 0x2;

    public long rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
    public long r8, r9, r10, r11, r12, r13, r14, r15;
    public long rip, rflags;

    private static StructLayout layout() {
        StructLayout.Builder builder = StructLayout.of("struct kvm_regs", SIZE);
        for (int i = 0; i < FIELDS.length; i++) {
            builder.field(FIELDS[i], i * 8);
        }
        return builder.build();
    }

    /** The registers in struct kvm_regs order (rax .. r15, rip, rflags). */
    public long[] values() {
        return new long[] {rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags};
    }

    void writeTo(Pointer memory) {
        memory.put(0, values(), 0, FIELDS.length);
    }

    static KvmRegs readFrom(Pointer memory) {
        long[] v = new long[FIELDS.length];
        memory.get(0, v, 0, v.length);
        return ofValues(v);
    }

    /** The registers from {@code v}, in struct kvm_regs order (rax .. r15, rip, rflags). */
    public static KvmRegs ofValues(long[] v) {
        KvmRegs regs = new KvmRegs();
        regs.rax = v[0];
        regs.rbx = v[1];
        regs.rcx = v[2];
        regs.rdx = v[3];
        regs.rsi = v[4];
        regs.rdi = v[5];
        regs.rsp = v[6];
        regs.rbp = v[7];
        regs.r8 = v[8];
        regs.r9 = v[9];
        regs.r10 = v[10];
        regs.r11 = v[11];
        regs.r12 = v[12];
        regs.r13 = v[13];
        regs.r14 = v[14];
        regs.r15 = v[15];
        regs.rip = v[16];
        regs.rflags = v[17];
        return regs;
    }
}
