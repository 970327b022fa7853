package io.quarkvm.persistence;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.agroal.api.AgroalDataSource;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * VM events between the nodes: each is written to the {@link EventLog} inside the transaction of the change, and the
 * database announces it with NOTIFY on {@value #EVENT_CHANNEL} (V8__event_announced_by_the_database.sql: the commit
 * trigger that numbers it), so PostgreSQL delivers the announcement only when (and if) it commits. An
 * event that asks something of a VM's node (a desired state, a vCPU plugged or unplugged, a deletion) wakes the
 * reconcilers; every event wakes each node's event feed, which reads the log.
 */
@ApplicationScoped
public class DatabaseNotifications {

    private static final Logger LOG = Logger.getLogger(DatabaseNotifications.class);
    /** The channel V8__event_announced_by_the_database.sql notifies. */
    private static final String EVENT_CHANNEL = "quarkvm_event";
    /** Events a node records itself, about what it observed: nothing for a reconciler to act on. */
    private static final String OBSERVATION = "phase";
    private static final Duration RESUBSCRIBE_INTERVAL = Duration.ofMillis(500);

    private final AgroalDataSource dataSource;
    private final ObjectMapper json;
    private final EventLog log;
    private volatile Consumer<UUID> vmChanged = id -> { };
    private final List<Runnable> resubscribed = new CopyOnWriteArrayList<>();
    private final List<Runnable> eventCommitted = new CopyOnWriteArrayList<>();
    private volatile boolean listening;
    private Thread listener;

    DatabaseNotifications(AgroalDataSource dataSource, ObjectMapper json, EventLog log) {
        this.dataSource = dataSource;
        this.json = json;
        this.log = log;
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
    }

    /** Who is told that a VM changed (this node's reconciler). */
    public void onVmChanged(Consumer<UUID> consumer) {
        this.vmChanged = consumer;
    }

    /**
     * Who is told that LISTEN was lost and is back, so notifications may have been missed (this node's reconciler,
     * its event feed).
     */
    public void onResubscribed(Runnable catchUp) {
        resubscribed.add(catchUp);
    }

    /** Who is told that some node committed an event (this node's event feed, which then reads the log). */
    public void onEventCommitted(Runnable wake) {
        eventCommitted.add(wake);
    }

    /** Within the caller's transaction: log the event; the database announces it once it commits. */
    public void announce(VmEvent event) {
        log.append(event);
    }

    /** What a notification carries: enough to wake the right reconciler; the event itself is in the log. */
    record Announcement(String type, UUID vmId) {
    }

    /**
     * Holds one connection LISTENing for the life of the service. When it is lost (the database restarted, say) it
     * subscribes again as soon as the database answers, and then says so: what was announced meanwhile never reached
     * this node, so the reconciler looks at every VM.
     */
    private void listenLoop() {
        Instant lostAt = null;
        while (listening) {
            try (Connection connection = dataSource.getConnection(); Statement statement = connection.createStatement()) {
                statement.execute("LISTEN " + EVENT_CHANNEL);
                if (lostAt != null) {
                    LOG.infof("LISTEN subscribed again after %d ms without it", Duration.between(lostAt, Instant.now()).toMillis());
                    lostAt = null;
                    resubscribed.forEach(Runnable::run);
                }
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
                    if (lostAt == null) {
                        lostAt = Instant.now();
                        LOG.warnf("LISTEN connection lost (%s); subscribing again once the database answers, "
                                + "the reconciler's sweep covers until then", e.getMessage());
                    }
                    try {
                        Thread.sleep(RESUBSCRIBE_INTERVAL.toMillis());
                    } catch (InterruptedException interrupted) {
                        return;
                    }
                }
            }
        }
    }

    private void dispatch(PGNotification notification) {
        try {
            Announcement announcement = json.readValue(notification.getParameter(), Announcement.class);
            if (!OBSERVATION.equals(announcement.type())) {
                vmChanged.accept(announcement.vmId());
            }
            eventCommitted.forEach(Runnable::run);
        } catch (RuntimeException | JsonProcessingException e) {
            LOG.warnf("ignored notification %s: %s (%s)", notification.getName(), notification.getParameter(), e.getMessage());
        }
    }
}
