package io.quarkvm.service;

import java.util.UUID;

public class VmNotFoundException extends RuntimeException {
    public VmNotFoundException(UUID id) {
        this(id.toString());
    }

    /** An id that is not written like one names no VM either. */
    public VmNotFoundException(String id) {
        super("no VM with id " + id);
    }
}
