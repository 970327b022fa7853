package io.quarkvm.kvm;

import java.util.ArrayList;
import java.util.List;
import jnr.ffi.Pointer;

/**
 * struct kvm_xcrs (asm/kvm.h): __u32 nr_xcrs, __u32 flags, struct kvm_xcr xcrs[KVM_MAX_XCRS] (each __u32 xcr,
 * __u32 reserved, __u64 value), __u64 padding[16]; 392 bytes, for KVM_GET_XCRS and KVM_SET_XCRS.
 */
public final class KvmXcrs {

    /** KVM_MAX_XCRS */
    public static final int MAX_XCRS = 16;
    private static final int NR_XCRS = 0;
    private static final int FLAGS = 4;
    private static final int XCRS = 8;
    public static final int ENTRY_SIZE = 16;
    private static final int XCR = 0;
    private static final int VALUE = 8;
    private static final int PADDING = XCRS + MAX_XCRS * ENTRY_SIZE;
    public static final int SIZE = PADDING + 16 * 8;

    public static final StructLayout LAYOUT = StructLayout.of("struct kvm_xcrs", SIZE)
            .field("nr_xcrs", NR_XCRS).field("flags", FLAGS).field("xcrs", XCRS).field("padding", PADDING).build();
    public static final StructLayout ENTRY_LAYOUT = StructLayout.of("struct kvm_xcr", ENTRY_SIZE)
            .field("xcr", XCR).field("value", VALUE).build();

    private KvmXcrs() {
    }

    /** @throws IllegalArgumentException more than {@link #MAX_XCRS} entries */
    static Pointer write(List<XcrEntry> entries) {
        if (entries.size() > MAX_XCRS) {
            throw new IllegalArgumentException("struct kvm_xcrs holds at most " + MAX_XCRS + " XCRs, not "
                    + entries.size());
        }
        Pointer memory = Posix.allocate(SIZE);
        memory.putInt(NR_XCRS, entries.size());
        for (int i = 0; i < entries.size(); i++) {
            long at = XCRS + (long) i * ENTRY_SIZE;
            memory.putInt(at + XCR, entries.get(i).index());
            memory.putLongLong(at + VALUE, entries.get(i).value());
        }
        return memory;
    }

    /** The nr_xcrs entries KVM_GET_XCRS filled. */
    static List<XcrEntry> read(Pointer memory) {
        int count = memory.getInt(NR_XCRS);
        if (count < 0 || count > MAX_XCRS) {
            throw new IllegalStateException("KVM_GET_XCRS reported " + count + " XCRs, at most " + MAX_XCRS + " fit");
        }
        List<XcrEntry> entries = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            long at = XCRS + (long) i * ENTRY_SIZE;
            entries.add(new XcrEntry(memory.getInt(at + XCR), memory.getLongLong(at + VALUE)));
        }
        return entries;
    }
}
