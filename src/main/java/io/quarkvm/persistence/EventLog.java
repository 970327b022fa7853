package io.quarkvm.persistence;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The persisted log of VM events (table {@code vm_event}, V4__event_log.sql). An event is appended in the
 * transaction of the change it describes and gets its id when that transaction commits, so ids become visible in
 * increasing order: whoever has read every event up to id n finds everything newer after n.
 */
@ApplicationScoped
public class EventLog {

    /** An event as logged: {@code payload} is the {@link VmEvent} as JSON, exactly as it is streamed. */
    public record LoggedEvent(long id, UUID vmId, String vmName, String type, String payload) {
    }

    /**
     * Events after an id, read together with how far the log has been pruned: when the id asked after is below
     * {@code prunedThrough}, the events up to {@code prunedThrough} are gone.
     */
    public record Page(long prunedThrough, List<LoggedEvent> events) {
    }

    private final AgroalDataSource dataSource;
    private final ObjectMapper json;

    EventLog(AgroalDataSource dataSource, ObjectMapper json) {
        this.dataSource = dataSource;
        this.json = json;
    }

    /** Within the caller's transaction: the event is in the log if, and when, that transaction commits. */
    public void append(VmEvent event) {
        String payload;
        try {
            payload = json.writeValueAsString(event);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        VmEntity.getEntityManager().createNativeQuery(
                        "INSERT INTO vm_event (vm_id, vm_name, type, payload, node) VALUES (?1, ?2, ?3, CAST(?4 AS json), ?5)")
                .setParameter(1, event.vmId()).setParameter(2, event.vmName()).setParameter(3, event.type())
                .setParameter(4, payload).setParameter(5, event.node())
                .executeUpdate();
    }

    /** At most {@code limit} events with an id above {@code after}, in id order; one statement, so one snapshot. */
    public Page readAfter(long after, int limit) {
        try (Connection connection = dataSource.getConnection();
             PreparedStatement read = connection.prepareStatement("""
                     SELECT p.through_id, e.id, e.vm_id, e.vm_name, e.type, e.payload::text
                     FROM vm_event_pruned p
                     LEFT JOIN LATERAL (SELECT * FROM vm_event WHERE id > ? ORDER BY id LIMIT ?) e ON TRUE
                     ORDER BY e.id""")) {
            read.setLong(1, after);
            read.setInt(2, limit);
            long prunedThrough = 0;
            List<LoggedEvent> events = new ArrayList<>();
            try (ResultSet rows = read.executeQuery()) {
                while (rows.next()) {
                    prunedThrough = rows.getLong(1);
                    long id = rows.getLong(2);
                    if (!rows.wasNull()) {
                        events.add(new LoggedEvent(id, rows.getObject(3, UUID.class), rows.getString(4),
                                rows.getString(5), rows.getString(6)));
                    }
                }
            }
            return new Page(prunedThrough, events);
        } catch (SQLException e) {
            throw new EventLogException("could not read the event log", e);
        }
    }

    /** The highest id committed (or pruned): a reader starting now starts after it. */
    public long lastId() {
        try (Connection connection = dataSource.getConnection();
             PreparedStatement read = connection.prepareStatement(
                     "SELECT greatest((SELECT max(id) FROM vm_event), (SELECT through_id FROM vm_event_pruned))");
             ResultSet row = read.executeQuery()) {
            row.next();
            return row.getLong(1);
        } catch (SQLException e) {
            throw new EventLogException("could not read the event log", e);
        }
    }

    /**
     * Deletes the oldest events, always a prefix of the ids: those older than {@code olderThan} and those beyond the
     * newest {@code keepAtMost}. Returns the highest id pruned so far.
     */
    public long prune(Instant olderThan, int keepAtMost) {
        try (Connection connection = dataSource.getConnection();
             PreparedStatement prune = connection.prepareStatement("""
                     WITH bound AS (
                         SELECT greatest(
                             coalesce((SELECT min(id) - 1 FROM vm_event WHERE id > 0 AND created_at >= ?),
                                      (SELECT max(id) FROM vm_event)),
                             (SELECT id FROM vm_event WHERE id > 0 ORDER BY id DESC OFFSET ? LIMIT 1)) AS through_id
                     ), pruned AS (
                         DELETE FROM vm_event WHERE id > 0 AND id <= (SELECT through_id FROM bound)
                     )
                     UPDATE vm_event_pruned
                     SET through_id = greatest(vm_event_pruned.through_id, (SELECT through_id FROM bound))
                     RETURNING through_id""")) {
            prune.setObject(1, OffsetDateTime.ofInstant(olderThan, ZoneOffset.UTC));
            prune.setInt(2, keepAtMost);
            try (ResultSet row = prune.executeQuery()) {
                row.next();
                return row.getLong(1);
            }
        } catch (SQLException e) {
            throw new EventLogException("could not prune the event log", e);
        }
    }

    /** The database could not be asked (unreachable, say: {@link DatabaseUnavailable} tells). */
    public static final class EventLogException extends RuntimeException {
        EventLogException(String message, SQLException cause) {
            super(message + ": " + cause.getMessage(), cause);
        }
    }
}
