package io.quarkvm.migration;

import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.UUID;

/**
 * What a node does with a migration stream another node sends it: builds the VM from it, takes it over and resumes
 * it, or refuses. Implemented by the node layer; the HTTP route only hands the stream over.
 */
public interface IncomingMigrations {

    /**
     * Reads the whole stream of migration {@code migrationId} and returns once the VM runs here.
     *
     * @return when this node let the VM run again (its clock)
     * @throws MigrationRefusedException  this node does not take the VM (nothing was built, or it was discarded
     *                                    unrun)
     * @throws io.quarkvm.vmm.SnapshotFormatException the stream is truncated, corrupt or of another version
     * @throws IOException                the stream broke off
     */
    Instant receive(UUID migrationId, InputStream stream) throws IOException;
}
