package io.quarkvm.emulated;

/** A call into Unicorn failed: the function and Unicorn's own description of the uc_err. */
public final class UnicornException extends RuntimeException {

    UnicornException(Unicorn unicorn, String call, int error) {
        super(call + " failed: " + unicorn.uc_strerror(error) + " (uc_err " + error + ")");
    }
}
