package io.quarkvm.kvm;

import jnr.ffi.Pointer;

/**
 * struct kvm_fpu (asm/kvm.h), 416 bytes: the x87 registers (fpr[8][16], each an 80-bit value in its first 10 bytes),
 * control, status and abridged tag word (fxsave format), the last x87 opcode and operand pointers, the sixteen XMM
 * registers (xmm[16][16]) and MXCSR. KVM itself leaves mxcsr 0 in KVM_GET_FPU and ignores it in KVM_SET_FPU
 * (kvm_arch_vcpu_ioctl_get_fpu/set_fpu copy no MXCSR; seen on this host's 6.18 kernel): only {@link KvmXsave}
 * carries a KVM vCPU's MXCSR. The emulated backend fills and takes it.
 */
public final class KvmFpu {

    public static final int REGISTER_BYTES = 16;
    public static final int X87_REGISTERS = 8;
    public static final int XMM_REGISTERS = 16;
    private static final int FPR = 0;
    private static final int FCW = FPR + X87_REGISTERS * REGISTER_BYTES;
    private static final int FSW = FCW + 2;
    private static final int FTWX = FSW + 2;
    private static final int LAST_OPCODE = FTWX + 2; // after __u8 pad1
    private static final int LAST_IP = LAST_OPCODE + 2;
    private static final int LAST_DP = LAST_IP + 8;
    private static final int XMM = LAST_DP + 8;
    private static final int MXCSR = XMM + XMM_REGISTERS * REGISTER_BYTES;
    public static final int SIZE = MXCSR + 8; // __u32 mxcsr, __u32 pad2

    public static final StructLayout LAYOUT = StructLayout.of("struct kvm_fpu", SIZE)
            .field("fpr", FPR).field("fcw", FCW).field("fsw", FSW).field("ftwx", FTWX)
            .field("last_opcode", LAST_OPCODE).field("last_ip", LAST_IP).field("last_dp", LAST_DP)
            .field("xmm", XMM).field("mxcsr", MXCSR).build();

    /** ST0..ST7 / MM0..MM7, 16 bytes each. */
    public final byte[] fpr = new byte[X87_REGISTERS * REGISTER_BYTES];
    public int fcw;
    public int fsw;
    /** Abridged tag word: bit i set when physical x87 register i is not empty. */
    public int ftwx;
    public int lastOpcode;
    public long lastIp;
    public long lastDp;
    /** XMM0..XMM15, 16 bytes each. */
    public final byte[] xmm = new byte[XMM_REGISTERS * REGISTER_BYTES];
    public int mxcsr;

    void writeTo(Pointer memory) {
        memory.put(FPR, fpr, 0, fpr.length);
        memory.putShort(FCW, (short) fcw);
        memory.putShort(FSW, (short) fsw);
        memory.putByte(FTWX, (byte) ftwx);
        memory.putByte(FTWX + 1, (byte) 0);
        memory.putShort(LAST_OPCODE, (short) lastOpcode);
        memory.putLongLong(LAST_IP, lastIp);
        memory.putLongLong(LAST_DP, lastDp);
        memory.put(XMM, xmm, 0, xmm.length);
        memory.putInt(MXCSR, mxcsr);
        memory.putInt(MXCSR + 4, 0);
    }

    static KvmFpu readFrom(Pointer memory) {
        KvmFpu fpu = new KvmFpu();
        memory.get(FPR, fpu.fpr, 0, fpu.fpr.length);
        fpu.fcw = Short.toUnsignedInt(memory.getShort(FCW));
        fpu.fsw = Short.toUnsignedInt(memory.getShort(FSW));
        fpu.ftwx = Byte.toUnsignedInt(memory.getByte(FTWX));
        fpu.lastOpcode = Short.toUnsignedInt(memory.getShort(LAST_OPCODE));
        fpu.lastIp = memory.getLongLong(LAST_IP);
        fpu.lastDp = memory.getLongLong(LAST_DP);
        memory.get(XMM, fpu.xmm, 0, fpu.xmm.length);
        fpu.mxcsr = memory.getInt(MXCSR);
        return fpu;
    }
}
