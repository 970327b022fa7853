package io.quarkvm.persistence;

import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;
import org.eclipse.microprofile.health.Readiness;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * Readiness follows the database: no request that needs it can be served while it is unreachable. Liveness goes
 * DOWN only when the service cannot heal by itself (its embedded server could not be started again), so that an
 * orchestrator restarts the service for an outage the service would have outlived by itself. Neither says where
 * the database is.
 */
@ApplicationScoped
public class DatabaseHealthChecks {

    private static final String READINESS = "database";
    private static final String LIVENESS = "database recovery";
    private static final int VALIDATION_TIMEOUT_SECONDS = 2;

    private final AgroalDataSource dataSource;
    private final EmbeddedPostgresSupervisor embedded;

    DatabaseHealthChecks(AgroalDataSource dataSource, EmbeddedPostgresSupervisor embedded) {
        this.dataSource = dataSource;
        this.embedded = embedded;
    }

    @Produces
    @Readiness
    HealthCheck reachable() {
        return () -> {
            var response = HealthCheckResponse.named(READINESS).status(canConnect());
            embedded.outage().ifPresent(outage -> response.down().withData("embedded server", outage));
            return response.build();
        };
    }

    private boolean canConnect() {
        try (Connection connection = dataSource.getConnection()) {
            return connection.isValid(VALIDATION_TIMEOUT_SECONDS);
        } catch (SQLException e) {
            return false;
        }
    }

    @Produces
    @Liveness
    HealthCheck recoverable() {
        return () -> {
            var response = HealthCheckResponse.named(LIVENESS).up();
            embedded.givenUp().ifPresent(outage -> response.down().withData("embedded server", outage));
            return response.build();
        };
    }
}
