package io.quarkvm.vmm;

/**
 * What a vCPU thread has handled so far.
 *
 * @param rdmsrAnswered      guest reads of HV_X64_MSR_VP_INDEX answered from the persisted table
 * @param msrAccessesRefused guest RDMSR/WRMSR answered with #GP
 * @param ioExits            port I/O exits (the probe's reports)
 * @param kicksTaken         KVM_RUN calls that returned EINTR (pause, park, stop)
 * @param halts              KVM_EXIT_HLT exits (the guest idled; each cost it a tick out of the guest)
 */
public record VcpuCounters(long rdmsrAnswered, long msrAccessesRefused, long ioExits, long kicksTaken, long halts) {
}
