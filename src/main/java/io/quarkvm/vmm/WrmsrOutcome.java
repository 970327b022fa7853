package io.quarkvm.vmm;

/** What became of the probe's one WRMSR of the read-only HV_X64_MSR_VP_INDEX. */
public enum WrmsrOutcome {
    /** No Hyper-V advertised, so the probe does not touch the MSR. */
    NOT_TRIED,
    /** The write took #GP: the VP index is read-only, as it must be. */
    FAULTED,
    /** The write went through: a bug in whoever serves the MSR. */
    ACCEPTED;

    static WrmsrOutcome fromRecord(int value) {
        return switch (value) {
            case GuestLayout.WRMSR_FAULTED -> FAULTED;
            case GuestLayout.WRMSR_ACCEPTED -> ACCEPTED;
            default -> NOT_TRIED;
        };
    }
}
