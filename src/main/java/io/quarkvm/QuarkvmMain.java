package io.quarkvm;

import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.annotations.QuarkusMain;
import io.quarkvm.persistence.EmbeddedPostgres;

import java.nio.file.Path;

/**
 * Starts an embedded PostgreSQL before the application when no datasource is configured, so that a fresh
 * machine with only Java runs the service with one command. This runs before Quarkus reads its configuration,
 * so it reads the same settings the way SmallRye Config would: system property, then environment variable.
 */
@QuarkusMain
public class QuarkvmMain {

    public static void main(String... args) {
        if (setting("quarkus.datasource.jdbc.url", "QUARKUS_DATASOURCE_JDBC_URL", null) == null) {
            Path dataDir = Path.of(setting("quarkvm.data-dir", "QUARKVM_DATA_DIR", "./data"));
            int port = Integer.parseInt(setting("quarkvm.embedded-db.port", "QUARKVM_EMBEDDED_DB_PORT", "5433"));
            EmbeddedPostgres database = EmbeddedPostgres.startForThisProcess(dataDir.resolve("postgres"), port);
            System.setProperty("quarkus.datasource.jdbc.url", database.jdbcUrl());
            System.setProperty("quarkus.datasource.username", database.username());
            System.setProperty("quarkus.datasource.password", database.password());
        }
        Quarkus.run(args);
    }

    private static String setting(String property, String environmentVariable, String fallback) {
        String value = System.getProperty(property);
        if (value == null || value.isBlank()) {
            value = System.getenv(environmentVariable);
        }
        return value == null || value.isBlank() ? fallback : value;
    }
}
