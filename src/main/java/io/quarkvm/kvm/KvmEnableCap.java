package io.quarkvm.kvm;

import jnr.ffi.Pointer;

/** struct kvm_enable_cap (linux/kvm.h): __u32 cap, __u32 flags, __u64 args[4], __u8 pad[64]. */
public record KvmEnableCap(KvmCapability capability, long... args) {

    public static final int SIZE = 104;
    private static final int CAP = 0;
    private static final int FLAGS = 4;
    private static final int ARGS = 8;
    private static final int MAX_ARGS = 4;

    public static final StructLayout LAYOUT = StructLayout.of("struct kvm_enable_cap", SIZE)
            .field("cap", CAP).field("flags", FLAGS).field("args", ARGS).build();

    public KvmEnableCap {
        if (args.length > MAX_ARGS) {
            throw new IllegalArgumentException("kvm_enable_cap takes at most " + MAX_ARGS + " args");
        }
        args = args.clone();
    }

    @Override
    public long[] args() {
        return args.clone();
    }

    Pointer toNative() {
        Pointer memory = Posix.allocate(SIZE);
        memory.putInt(CAP, capability.number());
        memory.putInt(FLAGS, 0);
        memory.put(ARGS, args, 0, args.length);
        return memory;
    }
}
