package io.quarkvm.kvm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import jnr.ffi.Pointer;

/**
 * struct kvm_xsave (asm/kvm.h): {@code __u32 region[1024]} (4096 bytes), then {@code __u32 extra[]} up to the size
 * KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) gives on the VM, which is larger only when a dynamic feature (AMX) has been
 * enabled with arch_prctl. The region is the vCPU's XSAVE area in the standard (non-compacted) format, as KVM
 * lays it out: the legacy FXSAVE area (x87, MXCSR, XMM0-15; Intel SDM vol. 1, table 10-2) at 0, the XSAVE header
 * at 512 (XSTATE_BV: which components hold other than their initial state), and every further component at the
 * offset CPUID leaf 0xD of the host gives. KVM reads and writes it as a whole; only what the emulated backend needs
 * (the legacy area, XSTATE_BV) is decoded here.
 */
public final class KvmXsave {

    /** sizeof(struct kvm_xsave): what KVM_GET_XSAVE writes, and the least any XSAVE area here has. */
    public static final int SIZE = 4096;
    public static final StructLayout LAYOUT = StructLayout.of("struct kvm_xsave", SIZE)
            .field("region", 0).field("extra", SIZE).build();

    /** XSTATE_BV bits (XCR0 bit numbering): x87, SSE (XMM and MXCSR), AVX (upper halves of YMM0-15). */
    public static final long X87 = 1;
    public static final long SSE = 1 << 1;
    public static final long AVX = 1 << 2;

    // The legacy FXSAVE area in its 64-bit layout (SDM vol. 1, table 10-2).
    private static final int FCW = 0;
    private static final int FSW = 2;
    private static final int FTW = 4;
    private static final int FOP = 6;
    private static final int FIP = 8;
    private static final int FDP = 16;
    /** MXCSR in the legacy area (a __u32). */
    public static final int MXCSR = 24;
    private static final int ST_MM = 32;
    private static final int XMM = 160;
    /** XSTATE_BV, the first field of the XSAVE header (SDM vol. 1, 13.4.2). */
    public static final int XSTATE_BV = 512;
    /**
     * The AVX component in the standard format: CPUID.(EAX=0DH,ECX=2).EBX, 576 on every x86 processor with AVX
     * (0x240 on this host's KVM_GET_SUPPORTED_CPUID). It holds the upper 16 bytes of YMM0..YMM15 in order.
     */
    public static final int AVX_UPPER_HALVES = 576;
    private static final int AVX_UPPER_HALVES_SIZE = 16 * 16;

    /**
     * The head of the area as asm/sigcontext.h lays out the same standard format for a signal frame (struct
     * _xstate: legacy area, header, AVX component), so that a test can check these offsets against gcc too.
     */
    public static final StructLayout AREA_LAYOUT = StructLayout.of("struct _xstate",
                    AVX_UPPER_HALVES + AVX_UPPER_HALVES_SIZE)
            .field("fpstate.cwd", FCW).field("fpstate.swd", FSW).field("fpstate.twd", FTW).field("fpstate.fop", FOP)
            .field("fpstate.rip", FIP).field("fpstate.rdp", FDP).field("fpstate.mxcsr", MXCSR)
            .field("fpstate.st_space", ST_MM).field("fpstate.xmm_space", XMM)
            .field("xstate_hdr.xfeatures", XSTATE_BV).field("ymmh.ymmh_space", AVX_UPPER_HALVES).build();

    private final byte[] region;

    /**
     * An XSAVE area of {@code region.length} bytes (copied): at least {@link #SIZE}, whole {@code __u32}s.
     *
     * @throws IllegalArgumentException it is shorter, or not a multiple of 4 bytes
     */
    public KvmXsave(byte[] region) {
        if (region.length < SIZE || region.length % 4 != 0) {
            throw new IllegalArgumentException("an XSAVE area is at least " + SIZE + " bytes in whole __u32s, not "
                    + region.length);
        }
        this.region = region.clone();
    }

    /** An area holding only x87 and SSE state, taken from {@code fpu} (what KVM_GET_FPU itself gives of it). */
    public static KvmXsave ofLegacyState(KvmFpu fpu) {
        ByteBuffer area = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        area.putShort(FCW, (short) fpu.fcw);
        area.putShort(FSW, (short) fpu.fsw);
        area.put(FTW, (byte) fpu.ftwx);
        area.putShort(FOP, (short) fpu.lastOpcode);
        area.putLong(FIP, fpu.lastIp);
        area.putLong(FDP, fpu.lastDp);
        area.putInt(MXCSR, fpu.mxcsr);
        area.put(ST_MM, fpu.fpr);
        area.put(XMM, fpu.xmm);
        area.putLong(XSTATE_BV, X87 | SSE);
        return new KvmXsave(area.array());
    }

    /**
     * The x87 and SSE state of the legacy area, as KVM_GET_FPU would give it. The legacy area is taken as it is:
     * KVM_GET_XSAVE fills it with the initial values of a component whose XSTATE_BV bit is clear.
     */
    public KvmFpu legacyState() {
        ByteBuffer area = ByteBuffer.wrap(region).order(ByteOrder.LITTLE_ENDIAN);
        KvmFpu fpu = new KvmFpu();
        fpu.fcw = Short.toUnsignedInt(area.getShort(FCW));
        fpu.fsw = Short.toUnsignedInt(area.getShort(FSW));
        fpu.ftwx = Byte.toUnsignedInt(area.get(FTW));
        fpu.lastOpcode = Short.toUnsignedInt(area.getShort(FOP));
        fpu.lastIp = area.getLong(FIP);
        fpu.lastDp = area.getLong(FDP);
        fpu.mxcsr = area.getInt(MXCSR);
        area.get(ST_MM, fpu.fpr);
        area.get(XMM, fpu.xmm);
        return fpu;
    }

    /** The whole area, a copy. */
    public byte[] region() {
        return region.clone();
    }

    /** Its length in bytes: {@link #SIZE}, or the KVM_CAP_XSAVE2 size of the vCPU it came from. */
    public int size() {
        return region.length;
    }

    /** XSTATE_BV: the components ({@link #X87}, {@link #SSE}, {@link #AVX}, ...) not in their initial state. */
    public long xstateBv() {
        return ByteBuffer.wrap(region).order(ByteOrder.LITTLE_ENDIAN).getLong(XSTATE_BV);
    }

    /**
     * Writes the area into {@code memory}, which holds {@code capacity} bytes (the KVM_CAP_XSAVE2 size of the target
     * vCPU, which KVM_SET_XSAVE reads whole): zero-padded when the area is shorter.
     *
     * @throws IllegalArgumentException the area is longer and what does not fit is not all zero
     */
    void writeTo(Pointer memory, int capacity) {
        for (int i = capacity; i < region.length; i++) {
            if (region[i] != 0) {
                throw new IllegalArgumentException("the XSAVE area has state at byte " + i + ", beyond the "
                        + capacity + " bytes this vCPU's XSAVE area has");
            }
        }
        memory.put(0, region, 0, Math.min(capacity, region.length));
    }

    static KvmXsave readFrom(Pointer memory, int size) {
        byte[] region = new byte[size];
        memory.get(0, region, 0, size);
        return new KvmXsave(region);
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof KvmXsave xsave && Arrays.equals(xsave.region, region);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(region);
    }

    @Override
    public String toString() {
        return "KvmXsave[" + region.length + " bytes, XSTATE_BV 0x" + Long.toHexString(xstateBv()) + "]";
    }
}
