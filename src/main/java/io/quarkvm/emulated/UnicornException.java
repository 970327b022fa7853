package io.quarkvm.emulated;

/** A call into Unicorn failed: the function and Unicorn's own description of the uc_err. */
public final class UnicornException extends RuntimeException {

    private final int error;

    UnicornException(Unicorn unicorn, String call, int error) {
        super(call + " failed: " + unicorn.uc_strerror(error) + " (uc_err " + error + ")");
        this.error = error;
    }

    /** The uc_err value. */
    public int error() {
        return error;
    }
}
