package io.quarkvm.service;

import java.util.UUID;

public class VmNotFoundException extends RuntimeException {
    public VmNotFoundException(UUID id) {
        super("no VM with id " + id);
    }
}
