package io.quarkvm.persistence;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.agroal.api.AgroalDataSource;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.operators.multi.processors.BroadcastProcessor;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * PostgreSQL LISTEN/NOTIFY between the nodes: every committed VM event reaches every node's event streams, and an
 * event that asks something of a VM's node (a desired state, a vCPU plugged or unplugged, a deletion) wakes the
 * reconcilers. Announcements are made inside the transaction of the change, so PostgreSQL delivers them only when
 * (and if) it commits.
 */
@ApplicationScoped
public class DatabaseNotifications {

    private static final Logger LOG = Logger.getLogger(DatabaseNotifications.class);
    private static final String EVENT_CHANNEL = "quarkvm_event";
    /** Events a node records itself, about what it observed: nothing for a reconciler to act on. */
    private static final String OBSERVATION = "phase";

    private final AgroalDataSource dataSource;
    private final ObjectMapper json;
    private final BroadcastProcessor<VmEvent> events = BroadcastProcessor.create();
    private volatile Consumer<UUID> vmChanged = id -> { };
    private volatile boolean listening;
    private Thread listener;

    DatabaseNotifications(AgroalDataSource dataSource, ObjectMapper json) {
        this.dataSource = dataSource;
        this.json = json;
    }

    void start(@Observes @Priority(15) StartupEvent event) {
        listening = true;
        listener = new Thread(this::listenLoop, "db-notifications");
        listener.setDaemon(true);
        listener.start();
    }

    void stop(@Observes @Priority(1) ShutdownEvent event) {
        listening = false;
        if (listener != null) {
            listener.interrupt();
        }
        events.onComplete();
    }

    /** Who is told that a VM changed (this node's reconciler). */
    public void onVmChanged(Consumer<UUID> consumer) {
        this.vmChanged = consumer;
    }

    /** Every VM event committed by any node, from now on. */
    public Multi<VmEvent> events() {
        return events;
    }

    /** Within the caller's transaction: publish the event once it commits. */
    public void announce(VmEvent event) {
        try {
            notify(EVENT_CHANNEL, json.writeValueAsString(event));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void notify(String channel, String payload) {
        VmEntity.getEntityManager().createNativeQuery("SELECT pg_notify(?1, ?2)")
                .setParameter(1, channel).setParameter(2, payload).getSingleResult();
    }

    private void listenLoop() {
        while (listening) {
            try (Connection connection = dataSource.getConnection(); Statement statement = connection.createStatement()) {
                statement.execute("LISTEN " + EVENT_CHANNEL);
                PGConnection postgres = connection.unwrap(PGConnection.class);
                while (listening) {
                    PGNotification[] notifications = postgres.getNotifications(1000);
                    if (notifications != null) {
                        for (PGNotification notification : notifications) {
                            dispatch(notification);
                        }
                    }
                }
            } catch (SQLException e) {
                if (listening) {
                    LOG.warnf("LISTEN connection lost (%s); the reconciler's sweep covers until it is back", e.getMessage());
                    try {
                        Thread.sleep(1000);
                    } catch (InterruptedException interrupted) {
                        return;
                    }
                }
            }
        }
    }

    private void dispatch(PGNotification notification) {
        try {
            VmEvent event = json.readValue(notification.getParameter(), VmEvent.class);
            if (!OBSERVATION.equals(event.type())) {
                vmChanged.accept(event.vmId());
            }
            events.onNext(event);
        } catch (RuntimeException | JsonProcessingException e) {
            LOG.warnf("ignored notification %s: %s (%s)", notification.getName(), notification.getParameter(), e.getMessage());
        }
    }
}
