package io.quarkvm.kvm;

import jnr.ffi.Pointer;

/**
 * struct kvm_vcpu_events (asm/kvm.h), 64 bytes, for KVM_GET_VCPU_EVENTS and KVM_SET_VCPU_EVENTS: the exception,
 * interrupt and NMI being delivered or pending, the interrupt shadow after STI or MOV SS, SMM state and a pending
 * triple fault; what the guest would lose if a migration took only registers while an event was on its way in.
 * {@link #flags} says which of the optional parts are valid: KVM_GET_VCPU_EVENTS sets the flags the kernel fills,
 * and KVM_SET_VCPU_EVENTS then accepts exactly those (the reserved bytes are zero both ways).
 * Every {@code __u8} is held as an int 0..255.
 */
public final class KvmVcpuEvents {

    private static final int EXCEPTION_INJECTED = 0;
    private static final int EXCEPTION_NR = 1;
    private static final int EXCEPTION_HAS_ERROR_CODE = 2;
    private static final int EXCEPTION_PENDING = 3;
    private static final int EXCEPTION_ERROR_CODE = 4;
    private static final int INTERRUPT_INJECTED = 8;
    private static final int INTERRUPT_NR = 9;
    private static final int INTERRUPT_SOFT = 10;
    private static final int INTERRUPT_SHADOW = 11;
    private static final int NMI_INJECTED = 12;
    private static final int NMI_PENDING = 13;
    private static final int NMI_MASKED = 14;
    private static final int SIPI_VECTOR = 16;
    private static final int FLAGS = 20;
    private static final int SMI_SMM = 24;
    private static final int SMI_PENDING = 25;
    private static final int SMI_SMM_INSIDE_NMI = 26;
    private static final int SMI_LATCHED_INIT = 27;
    private static final int TRIPLE_FAULT_PENDING = 28;
    private static final int RESERVED = 29; // __u8 reserved[26]
    private static final int EXCEPTION_HAS_PAYLOAD = RESERVED + 26;
    private static final int EXCEPTION_PAYLOAD = 56;
    public static final int SIZE = EXCEPTION_PAYLOAD + 8;

    public static final StructLayout LAYOUT = StructLayout.of("struct kvm_vcpu_events", SIZE)
            .field("exception.injected", EXCEPTION_INJECTED).field("exception.nr", EXCEPTION_NR)
            .field("exception.has_error_code", EXCEPTION_HAS_ERROR_CODE)
            .field("exception.pending", EXCEPTION_PENDING).field("exception.error_code", EXCEPTION_ERROR_CODE)
            .field("interrupt.injected", INTERRUPT_INJECTED).field("interrupt.nr", INTERRUPT_NR)
            .field("interrupt.soft", INTERRUPT_SOFT).field("interrupt.shadow", INTERRUPT_SHADOW)
            .field("nmi.injected", NMI_INJECTED).field("nmi.pending", NMI_PENDING).field("nmi.masked", NMI_MASKED)
            .field("sipi_vector", SIPI_VECTOR).field("flags", FLAGS)
            .field("smi.smm", SMI_SMM).field("smi.pending", SMI_PENDING)
            .field("smi.smm_inside_nmi", SMI_SMM_INSIDE_NMI).field("smi.latched_init", SMI_LATCHED_INIT)
            .field("triple_fault.pending", TRIPLE_FAULT_PENDING).field("reserved", RESERVED)
            .field("exception_has_payload", EXCEPTION_HAS_PAYLOAD).field("exception_payload", EXCEPTION_PAYLOAD)
            .build();

    /** KVM_VCPUEVENT_VALID_NMI_PENDING: nmi.pending is valid. */
    public static final int VALID_NMI_PENDING = 0x01;
    /** KVM_VCPUEVENT_VALID_SIPI_VECTOR */
    public static final int VALID_SIPI_VECTOR = 0x02;
    /** KVM_VCPUEVENT_VALID_SHADOW: interrupt.shadow is valid. */
    public static final int VALID_SHADOW = 0x04;
    /** KVM_VCPUEVENT_VALID_SMM: smi is valid. */
    public static final int VALID_SMM = 0x08;
    /** KVM_VCPUEVENT_VALID_PAYLOAD: exception.pending and the payload are valid (KVM_CAP_EXCEPTION_PAYLOAD on). */
    public static final int VALID_PAYLOAD = 0x10;
    /** KVM_VCPUEVENT_VALID_TRIPLE_FAULT (KVM_CAP_X86_TRIPLE_FAULT_EVENT on). */
    public static final int VALID_TRIPLE_FAULT = 0x20;

    public int exceptionInjected, exceptionNr, exceptionHasErrorCode, exceptionPending;
    public int exceptionErrorCode;
    public int interruptInjected, interruptNr, interruptSoft;
    /** KVM_X86_SHADOW_INT_MOV_SS (1) and/or KVM_X86_SHADOW_INT_STI (2). */
    public int interruptShadow;
    public int nmiInjected, nmiPending, nmiMasked;
    public int sipiVector;
    public int flags;
    public int smiSmm, smiPending, smiSmmInsideNmi, smiLatchedInit;
    public int tripleFaultPending;
    public int exceptionHasPayload;
    public long exceptionPayload;

    /**
     * Whether nothing is on its way into the guest or held back: no exception, interrupt, NMI or SMI injected or
     * pending, no interrupt shadow, NMIs not masked, not in SMM, no latched INIT, no triple fault.
     */
    public boolean nonePending() {
        return (exceptionInjected | exceptionPending | interruptInjected | interruptShadow | nmiInjected | nmiPending
                | nmiMasked | smiSmm | smiPending | smiSmmInsideNmi | smiLatchedInit | tripleFaultPending) == 0;
    }

    void writeTo(Pointer memory) {
        memory.putByte(EXCEPTION_INJECTED, (byte) exceptionInjected);
        memory.putByte(EXCEPTION_NR, (byte) exceptionNr);
        memory.putByte(EXCEPTION_HAS_ERROR_CODE, (byte) exceptionHasErrorCode);
        memory.putByte(EXCEPTION_PENDING, (byte) exceptionPending);
        memory.putInt(EXCEPTION_ERROR_CODE, exceptionErrorCode);
        memory.putByte(INTERRUPT_INJECTED, (byte) interruptInjected);
        memory.putByte(INTERRUPT_NR, (byte) interruptNr);
        memory.putByte(INTERRUPT_SOFT, (byte) interruptSoft);
        memory.putByte(INTERRUPT_SHADOW, (byte) interruptShadow);
        memory.putByte(NMI_INJECTED, (byte) nmiInjected);
        memory.putByte(NMI_PENDING, (byte) nmiPending);
        memory.putByte(NMI_MASKED, (byte) nmiMasked);
        memory.putInt(SIPI_VECTOR, sipiVector);
        memory.putInt(FLAGS, flags);
        memory.putByte(SMI_SMM, (byte) smiSmm);
        memory.putByte(SMI_PENDING, (byte) smiPending);
        memory.putByte(SMI_SMM_INSIDE_NMI, (byte) smiSmmInsideNmi);
        memory.putByte(SMI_LATCHED_INIT, (byte) smiLatchedInit);
        memory.putByte(TRIPLE_FAULT_PENDING, (byte) tripleFaultPending);
        memory.putByte(EXCEPTION_HAS_PAYLOAD, (byte) exceptionHasPayload);
        memory.putLongLong(EXCEPTION_PAYLOAD, exceptionPayload);
    }

    static KvmVcpuEvents readFrom(Pointer memory) {
        KvmVcpuEvents events = new KvmVcpuEvents();
        events.exceptionInjected = u8(memory, EXCEPTION_INJECTED);
        events.exceptionNr = u8(memory, EXCEPTION_NR);
        events.exceptionHasErrorCode = u8(memory, EXCEPTION_HAS_ERROR_CODE);
        events.exceptionPending = u8(memory, EXCEPTION_PENDING);
        events.exceptionErrorCode = memory.getInt(EXCEPTION_ERROR_CODE);
        events.interruptInjected = u8(memory, INTERRUPT_INJECTED);
        events.interruptNr = u8(memory, INTERRUPT_NR);
        events.interruptSoft = u8(memory, INTERRUPT_SOFT);
        events.interruptShadow = u8(memory, INTERRUPT_SHADOW);
        events.nmiInjected = u8(memory, NMI_INJECTED);
        events.nmiPending = u8(memory, NMI_PENDING);
        events.nmiMasked = u8(memory, NMI_MASKED);
        events.sipiVector = memory.getInt(SIPI_VECTOR);
        events.flags = memory.getInt(FLAGS);
        events.smiSmm = u8(memory, SMI_SMM);
        events.smiPending = u8(memory, SMI_PENDING);
        events.smiSmmInsideNmi = u8(memory, SMI_SMM_INSIDE_NMI);
        events.smiLatchedInit = u8(memory, SMI_LATCHED_INIT);
        events.tripleFaultPending = u8(memory, TRIPLE_FAULT_PENDING);
        events.exceptionHasPayload = u8(memory, EXCEPTION_HAS_PAYLOAD);
        events.exceptionPayload = memory.getLongLong(EXCEPTION_PAYLOAD);
        return events;
    }

    private static int u8(Pointer memory, int offset) {
        return Byte.toUnsignedInt(memory.getByte(offset));
    }
}
