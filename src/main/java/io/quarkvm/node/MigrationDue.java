package io.quarkvm.node;

import java.util.UUID;

/** The reconciler found a VM of this node handed to a migration: the migration source takes it up (once). */
public record MigrationDue(UUID vmId) {
}
