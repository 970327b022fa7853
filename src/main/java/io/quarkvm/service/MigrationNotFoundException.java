package io.quarkvm.service;

import java.util.UUID;

public class MigrationNotFoundException extends RuntimeException {
    public MigrationNotFoundException(UUID id) {
        this(id.toString());
    }

    /** An id that is not written like one names no migration either. */
    public MigrationNotFoundException(String id) {
        super("no migration with id " + id);
    }
}
