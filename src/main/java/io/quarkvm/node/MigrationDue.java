package io.quarkvm.node;

import io.quarkvm.domain.Migration;

import java.util.Optional;
import java.util.UUID;

/**
 * A VM of some node is handed to a migration: the migration source takes it up (once) if that node is this one. Fired
 * by the reconciler at every look at such a VM, and by the request that created the migration, which passes it along
 * with the target's address so that the source need not read them back.
 *
 * @param migration the unfinished migration as just recorded; empty: the source reads it
 * @param targetUrl where the migration's target takes streams, as registered when it was recorded; empty: the source
 *                  reads it
 */
public record MigrationDue(UUID vmId, Optional<Migration> migration, Optional<String> targetUrl) {

    /** What the reconciler knows: the VM, handed over. */
    public static MigrationDue of(UUID vmId) {
        return new MigrationDue(vmId, Optional.empty(), Optional.empty());
    }
}
