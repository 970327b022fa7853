package io.quarkvm.vmm;

/** A vCPU was about to run with an identity other than the persisted one; the VM was not started. */
public final class IdentityMismatchException extends RuntimeException {

    public IdentityMismatchException(String message) {
        super(message);
    }
}
