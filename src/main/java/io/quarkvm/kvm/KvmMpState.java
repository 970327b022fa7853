package io.quarkvm.kvm;

/** struct kvm_mp_state (linux/kvm.h): a single __u32 mp_state, one of the KVM_MP_STATE_* values. */
public final class KvmMpState {

    public static final int SIZE = 4;
    public static final StructLayout LAYOUT = StructLayout.of("struct kvm_mp_state", SIZE).field("mp_state", 0).build();

    /** KVM_MP_STATE_RUNNABLE */
    public static final int RUNNABLE = 0;
    /** KVM_MP_STATE_UNINITIALIZED */
    public static final int UNINITIALIZED = 1;
    /** KVM_MP_STATE_INIT_RECEIVED */
    public static final int INIT_RECEIVED = 2;
    /** KVM_MP_STATE_HALTED */
    public static final int HALTED = 3;

    private KvmMpState() {
    }
}
