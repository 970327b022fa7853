package io.quarkvm.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.nio.file.Path;

/** The service's own settings (README.md, "Configuration"). */
@ConfigMapping(prefix = "quarkvm")
public interface QuarkvmConfig {

    /** Where the service keeps what must outlive it (the embedded PostgreSQL's data among it). */
    @WithDefault("./data")
    Path dataDir();

    EmbeddedDb embeddedDb();

    interface EmbeddedDb {
        /** Fixed, so that a second node can point its datasource at this node's embedded server. */
        @WithDefault("5433")
        int port();
    }
}
