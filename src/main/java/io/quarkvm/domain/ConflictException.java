package io.quarkvm.domain;

/** The request is valid but contradicts the current state (an occupied slot, a running VM, a stale version). */
public class ConflictException extends RuntimeException {
    public ConflictException(String message) {
        super(message);
    }
}
