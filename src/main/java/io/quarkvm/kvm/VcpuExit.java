package io.quarkvm.kvm;

import java.util.List;

/** Why KVM_RUN returned: the kvm_run exit, decoded once. */
public sealed interface VcpuExit {

    /** KVM_EXIT_IO: an IN or OUT; {@code data} is the first element written by an OUT, 0 for an IN. */
    record Io(boolean out, int port, int size, int count, long data) implements VcpuExit {
    }

    /** KVM_EXIT_MMIO: an access to guest-physical memory no slot backs; {@code data} is what a write stores. */
    record Mmio(long physicalAddress, boolean write, int length, long data) implements VcpuExit {
    }

    /** KVM_EXIT_X86_RDMSR: answer with {@link VcpuFd#answerRdmsr} or {@link VcpuFd#refuseMsrAccess}. */
    record RdMsr(int index, int reason) implements VcpuExit {
    }

    /** KVM_EXIT_X86_WRMSR: accept by doing nothing, or refuse with {@link VcpuFd#refuseMsrAccess}. */
    record WrMsr(int index, int reason, long data) implements VcpuExit {
    }

    /** KVM_EXIT_HLT: the guest halted with no in-kernel LAPIC to wake it. */
    record Hlt() implements VcpuExit {
    }

    /** KVM_EXIT_SHUTDOWN: a triple fault (or a guest-requested shutdown): the vCPU cannot go on. */
    record Shutdown() implements VcpuExit {
    }

    /** KVM_EXIT_FAIL_ENTRY: the hardware (or PVM) refused to enter the guest. */
    record FailEntry(long hardwareEntryFailureReason, int cpu) implements VcpuExit {
    }

    /** KVM_EXIT_INTERNAL_ERROR, with the suberror (KVM_INTERNAL_ERROR_*) and the data KVM gave. */
    record InternalError(int suberror, List<Long> data) implements VcpuExit {
    }

    /** KVM_RUN returned EINTR (a signal, or kvm_run.immediate_exit): look at why the vCPU was kicked. */
    record Interrupted() implements VcpuExit {
    }

    /** Any other exit reason (KVM_EXIT_*), with kvm_run.hw.hardware_exit_reason for KVM_EXIT_UNKNOWN. */
    record Unknown(int exitReason, long hardwareExitReason) implements VcpuExit {
    }
}
