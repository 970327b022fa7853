package io.quarkvm.service;

/** The client's If-Match names a version that is no longer current. */
public class StaleVersionException extends RuntimeException {

    public StaleVersionException(long expected, long current) {
        super("If-Match names version " + expected + " but the VM is at version " + current);
    }
}
