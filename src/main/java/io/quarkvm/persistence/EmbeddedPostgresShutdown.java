package io.quarkvm.persistence;

import io.quarkus.runtime.ShutdownEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/** Stops the embedded server last, once every other shutdown observer (VMs being stopped among them) is done. */
@ApplicationScoped
class EmbeddedPostgresShutdown {

    void stopEmbeddedServer(@Observes @Priority(Integer.MAX_VALUE) ShutdownEvent event) {
        EmbeddedPostgres.ownedByThisProcess().ifPresent(EmbeddedPostgres::close);
    }
}
