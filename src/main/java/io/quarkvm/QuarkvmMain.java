package io.quarkvm;

import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.annotations.QuarkusMain;
import io.quarkus.runtime.configuration.DurationConverter;
import io.quarkvm.config.QuarkvmConfig;
import io.quarkvm.node.LocalNode;
import io.quarkvm.persistence.DataDirectoryLock;
import io.quarkvm.persistence.EmbeddedPostgres;
import io.smallrye.config.PropertiesConfigSourceLoader;
import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.SmallRyeConfigBuilder;

import java.time.Duration;
import java.time.Instant;

/**
 * Claims the data directory (one instance per directory: a second one exits at once, touching nothing), then starts
 * an embedded PostgreSQL before the application when no datasource is configured, so that a fresh machine with only
 * Java runs the service with one command. This runs before Quarkus has its configuration, so
 * it reads the same sources Quarkus will (system properties, environment, application.properties in the jar and
 * in ./config, with the active profile) and the same {@link QuarkvmConfig} mapping, defaults included.
 */
@QuarkusMain
public class QuarkvmMain {

    private static final String JDBC_URL = "quarkus.datasource.jdbc.url";

    public static void main(String... args) {
        SmallRyeConfig config = configAsQuarkusWillSeeIt();
        QuarkvmConfig quarkvm = config.getConfigMapping(QuarkvmConfig.class);
        DataDirectoryLock dataDir;
        try {
            dataDir = DataDirectoryLock.acquire(quarkvm.dataDir(), "pid " + ProcessHandle.current().pid() + ", node "
                    + LocalNode.nameFrom(quarkvm) + ", HTTP port " + config.getValue("quarkus.http.port", Integer.class)
                    + ", since " + Instant.now());
        } catch (DataDirectoryLock.DataDirectoryInUseException e) {
            System.err.println("quarkvm: " + e.getMessage());
            System.exit(1);
            return;
        }
        if (config.getOptionalValue(JDBC_URL, String.class).isEmpty()) {
            EmbeddedPostgres database = EmbeddedPostgres.startForThisProcess(dataDir, quarkvm.embeddedDb().port());
            System.setProperty(JDBC_URL, database.jdbcUrl());
            System.setProperty("quarkus.datasource.username", database.username());
            System.setProperty("quarkus.datasource.password", database.password());
        }
        Quarkus.run(args);
    }

    private static SmallRyeConfig configAsQuarkusWillSeeIt() {
        // Quarkus has not set up logging yet: keep SmallRye's start-up chatter out of the console.
        java.util.logging.Logger.getLogger("io.smallrye.config").setLevel(java.util.logging.Level.WARNING);
        ClassLoader loader = QuarkvmMain.class.getClassLoader();
        String profile = System.getProperty("quarkus.profile", System.getenv().getOrDefault("QUARKUS_PROFILE", "prod"));
        return new SmallRyeConfigBuilder()
                .addDefaultSources()
                .addDefaultInterceptors()
                .withSources(PropertiesConfigSourceLoader.inClassPath("application.properties", 250, loader))
                .withSources(PropertiesConfigSourceLoader.inFileSystem("config/application.properties", 260, loader))
                .withConverter(Duration.class, 100, new DurationConverter())
                .withProfile(profile)
                .withMapping(QuarkvmConfig.class)
                .withValidateUnknown(false)
                .build();
    }
}
