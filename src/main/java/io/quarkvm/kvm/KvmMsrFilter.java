package io.quarkvm.kvm;

import java.util.ArrayList;
import java.util.List;
import jnr.ffi.Pointer;

/**
 * struct kvm_msr_filter (asm/kvm.h): __u32 flags (KVM_MSR_FILTER_DEFAULT_ALLOW/DENY), then
 * KVM_MSR_FILTER_MAX_RANGES struct kvm_msr_filter_range {__u32 flags; __u32 nmsrs; __u32 base; __u8 *bitmap;}.
 * In a range's bitmap a 1 bit allows the operations in its flags and a 0 bit denies them; with
 * KVM_MSR_EXIT_REASON_FILTER enabled a denied access exits to user space instead of injecting #GP.
 */
public record KvmMsrFilter(boolean defaultDeny, List<Range> ranges) {

    public static final int MAX_RANGES = 16;
    private static final int FLAGS = 0;
    private static final int RANGES = 8;
    public static final int RANGE_SIZE = 24;
    public static final int SIZE = RANGES + MAX_RANGES * RANGE_SIZE;

    private static final int RANGE_FLAGS = 0;
    private static final int RANGE_NMSRS = 4;
    private static final int RANGE_BASE = 8;
    private static final int RANGE_BITMAP = 16;

    /** KVM_MSR_FILTER_READ */
    public static final int READ = 1;
    /** KVM_MSR_FILTER_WRITE */
    public static final int WRITE = 2;
    /** KVM_MSR_FILTER_DEFAULT_DENY */
    private static final int DEFAULT_DENY = 1;

    public static final StructLayout LAYOUT = StructLayout.of("struct kvm_msr_filter", SIZE)
            .field("flags", FLAGS).field("ranges", RANGES).field("ranges[1]", RANGES + RANGE_SIZE).build();
    public static final StructLayout RANGE_LAYOUT = StructLayout.of("struct kvm_msr_filter_range", RANGE_SIZE)
            .field("flags", RANGE_FLAGS).field("nmsrs", RANGE_NMSRS).field("base", RANGE_BASE)
            .field("bitmap", RANGE_BITMAP).build();

    /** {@code nmsrs} MSRs from {@code base}; bit i of {@code bitmap} (LSB first) allows MSR base+i. */
    public record Range(int flags, int base, int nmsrs, byte[] bitmap) {
        public Range {
            if (bitmap.length * 8 < nmsrs) {
                throw new IllegalArgumentException("bitmap of " + bitmap.length + " bytes cannot cover " + nmsrs + " MSRs");
            }
            bitmap = bitmap.clone();
        }

        /** A range of one MSR whose {@code operations} (READ, WRITE) are denied. */
        public static Range denying(int msr, int operations) {
            return new Range(operations, msr, 1, new byte[] {0});
        }
    }

    public KvmMsrFilter {
        if (ranges.size() > MAX_RANGES) {
            throw new IllegalArgumentException("at most " + MAX_RANGES + " MSR filter ranges");
        }
        ranges = List.copyOf(ranges);
    }

    /**
     * Whether the filter lets KVM handle {@code operation} (READ or WRITE) on {@code msr}, as kvm_msr_allowed() in
     * arch/x86/kvm/x86.c decides: the first range that covers the MSR for that operation decides by its bitmap bit,
     * otherwise the default action.
     */
    public boolean allows(int msr, int operation) {
        for (Range range : ranges) {
            long offset = Integer.toUnsignedLong(msr) - Integer.toUnsignedLong(range.base());
            if ((range.flags() & operation) != 0 && offset >= 0 && offset < Integer.toUnsignedLong(range.nmsrs())) {
                return (range.bitmap[(int) (offset / 8)] >> (offset % 8) & 1) != 0;
            }
        }
        return !defaultDeny;
    }

    /**
     * The filter in native memory. The returned list keeps the range bitmaps alive; hold it until the ioctl has
     * returned (KVM copies the bitmaps during KVM_X86_SET_MSR_FILTER).
     */
    List<Pointer> toNative() {
        List<Pointer> keepAlive = new ArrayList<>();
        Pointer filter = Posix.allocate(SIZE);
        keepAlive.add(filter);
        filter.putInt(FLAGS, defaultDeny ? DEFAULT_DENY : 0);
        for (int i = 0; i < ranges.size(); i++) {
            Range range = ranges.get(i);
            Pointer bitmap = Posix.allocate(range.bitmap.length);
            bitmap.put(0, range.bitmap, 0, range.bitmap.length);
            keepAlive.add(bitmap);
            long at = RANGES + (long) i * RANGE_SIZE;
            filter.putInt(at + RANGE_FLAGS, range.flags());
            filter.putInt(at + RANGE_NMSRS, range.nmsrs());
            filter.putInt(at + RANGE_BASE, range.base());
            filter.putPointer(at + RANGE_BITMAP, bitmap);
        }
        return keepAlive;
    }
}
