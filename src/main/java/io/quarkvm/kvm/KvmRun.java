package io.quarkvm.kvm;

import java.util.ArrayList;
import java.util.List;
import jnr.ffi.Pointer;

/**
 * struct kvm_run (linux/kvm.h), read and written in place in the vCPU's mmapped page: no copy per exit. Only the
 * x86 members quarkvm uses are mapped; the exit union starts at offset 32 (no s390 fields on x86).
 */
public final class KvmRun {

    private static final int IMMEDIATE_EXIT = 1;
    private static final int EXIT_REASON = 8;
    private static final int EXIT_UNION = 32;

    // union member hw (KVM_EXIT_UNKNOWN)
    private static final int HW_HARDWARE_EXIT_REASON = EXIT_UNION;
    // union member fail_entry
    private static final int FAIL_ENTRY_REASON = EXIT_UNION;
    private static final int FAIL_ENTRY_CPU = EXIT_UNION + 8;
    // union member io
    private static final int IO_DIRECTION = EXIT_UNION;
    private static final int IO_SIZE = EXIT_UNION + 1;
    private static final int IO_PORT = EXIT_UNION + 2;
    private static final int IO_COUNT = EXIT_UNION + 4;
    private static final int IO_DATA_OFFSET = EXIT_UNION + 8;
    // union member mmio
    private static final int MMIO_PHYS_ADDR = EXIT_UNION;
    private static final int MMIO_DATA = EXIT_UNION + 8;
    private static final int MMIO_LEN = EXIT_UNION + 16;
    private static final int MMIO_IS_WRITE = EXIT_UNION + 20;
    // union member internal
    private static final int INTERNAL_SUBERROR = EXIT_UNION;
    private static final int INTERNAL_NDATA = EXIT_UNION + 4;
    private static final int INTERNAL_DATA = EXIT_UNION + 8;
    private static final int INTERNAL_MAX_DATA = 16;
    // union member msr (KVM_EXIT_X86_RDMSR / WRMSR)
    private static final int MSR_ERROR = EXIT_UNION;
    private static final int MSR_REASON = EXIT_UNION + 8;
    private static final int MSR_INDEX = EXIT_UNION + 12;
    private static final int MSR_DATA = EXIT_UNION + 16;

    public static final StructLayout LAYOUT = StructLayout.of("struct kvm_run", -1)
            .field("immediate_exit", IMMEDIATE_EXIT).field("exit_reason", EXIT_REASON)
            .field("hw.hardware_exit_reason", HW_HARDWARE_EXIT_REASON)
            .field("fail_entry.hardware_entry_failure_reason", FAIL_ENTRY_REASON)
            .field("fail_entry.cpu", FAIL_ENTRY_CPU)
            .field("io.direction", IO_DIRECTION).field("io.size", IO_SIZE).field("io.port", IO_PORT)
            .field("io.count", IO_COUNT).field("io.data_offset", IO_DATA_OFFSET)
            .field("mmio.phys_addr", MMIO_PHYS_ADDR).field("mmio.data", MMIO_DATA).field("mmio.len", MMIO_LEN)
            .field("mmio.is_write", MMIO_IS_WRITE)
            .field("internal.suberror", INTERNAL_SUBERROR).field("internal.ndata", INTERNAL_NDATA)
            .field("internal.data", INTERNAL_DATA)
            .field("msr.error", MSR_ERROR).field("msr.reason", MSR_REASON).field("msr.index", MSR_INDEX)
            .field("msr.data", MSR_DATA).build();

    // KVM_EXIT_* (linux/kvm.h)
    static final int EXIT_UNKNOWN = 0;
    static final int EXIT_IO = 2;
    static final int EXIT_HLT = 5;
    static final int EXIT_MMIO = 6;
    static final int EXIT_SHUTDOWN = 8;
    static final int EXIT_FAIL_ENTRY = 9;
    static final int EXIT_INTR = 10;
    static final int EXIT_INTERNAL_ERROR = 17;
    static final int EXIT_X86_RDMSR = 29;
    static final int EXIT_X86_WRMSR = 30;
    /** KVM_EXIT_IO_OUT */
    private static final int IO_OUT = 1;

    private final Pointer run;

    KvmRun(Pointer run) {
        this.run = run;
    }

    /** kvm_run.immediate_exit: KVM_RUN returns EINTR at once instead of entering the guest. Any thread may set it. */
    void setImmediateExit(boolean exit) {
        run.putByte(IMMEDIATE_EXIT, (byte) (exit ? 1 : 0));
    }

    VcpuExit decodeExit() {
        int reason = run.getInt(EXIT_REASON);
        return switch (reason) {
            case EXIT_IO -> decodeIo();
            case EXIT_MMIO -> new VcpuExit.Mmio(run.getLongLong(MMIO_PHYS_ADDR), run.getByte(MMIO_IS_WRITE) != 0,
                    run.getInt(MMIO_LEN), run.getLongLong(MMIO_DATA));
            case EXIT_X86_RDMSR -> new VcpuExit.RdMsr(run.getInt(MSR_INDEX), run.getInt(MSR_REASON));
            case EXIT_X86_WRMSR -> new VcpuExit.WrMsr(run.getInt(MSR_INDEX), run.getInt(MSR_REASON),
                    run.getLongLong(MSR_DATA));
            case EXIT_HLT -> new VcpuExit.Hlt();
            case EXIT_SHUTDOWN -> new VcpuExit.Shutdown();
            case EXIT_FAIL_ENTRY -> new VcpuExit.FailEntry(run.getLongLong(FAIL_ENTRY_REASON), run.getInt(FAIL_ENTRY_CPU));
            case EXIT_INTERNAL_ERROR -> decodeInternalError();
            case EXIT_INTR -> new VcpuExit.Interrupted();
            default -> new VcpuExit.Unknown(reason, reason == EXIT_UNKNOWN ? run.getLongLong(HW_HARDWARE_EXIT_REASON) : 0);
        };
    }

    private VcpuExit.Io decodeIo() {
        boolean out = run.getByte(IO_DIRECTION) == IO_OUT;
        int size = Byte.toUnsignedInt(run.getByte(IO_SIZE));
        long dataOffset = run.getLongLong(IO_DATA_OFFSET);
        long data = out ? readSized(dataOffset, size) : 0;
        return new VcpuExit.Io(out, Short.toUnsignedInt(run.getShort(IO_PORT)), size, run.getInt(IO_COUNT), data);
    }

    private VcpuExit.InternalError decodeInternalError() {
        int count = Math.min(run.getInt(INTERNAL_NDATA), INTERNAL_MAX_DATA);
        List<Long> data = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            data.add(run.getLongLong(INTERNAL_DATA + 8L * i));
        }
        return new VcpuExit.InternalError(run.getInt(INTERNAL_SUBERROR), data);
    }

    private long readSized(long offset, int size) {
        return switch (size) {
            case 1 -> Byte.toUnsignedLong(run.getByte(offset));
            case 2 -> Short.toUnsignedLong(run.getShort(offset));
            case 4 -> Integer.toUnsignedLong(run.getInt(offset));
            default -> run.getLongLong(offset);
        };
    }

    private void writeSized(long offset, int size, long value) {
        switch (size) {
            case 1 -> run.putByte(offset, (byte) value);
            case 2 -> run.putShort(offset, (short) value);
            case 4 -> run.putInt(offset, (int) value);
            default -> run.putLongLong(offset, value);
        }
    }

    /** The value an IN of the current KVM_EXIT_IO reads (first element). */
    void answerIoIn(long value) {
        writeSized(run.getLongLong(IO_DATA_OFFSET), Byte.toUnsignedInt(run.getByte(IO_SIZE)), value);
    }

    /** The value a read of the current KVM_EXIT_MMIO returns. */
    void answerMmioRead(long value) {
        run.putLongLong(MMIO_DATA, value);
    }

    /** msr.data for the current KVM_EXIT_X86_RDMSR, and msr.error = 0. */
    void answerRdmsr(long value) {
        run.putByte(MSR_ERROR, (byte) 0);
        run.putLongLong(MSR_DATA, value);
    }

    /** msr.error = 1: KVM injects #GP into the guest for the current RDMSR/WRMSR exit. */
    void refuseMsrAccess() {
        run.putByte(MSR_ERROR, (byte) 1);
    }
}
