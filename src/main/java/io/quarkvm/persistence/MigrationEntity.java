package io.quarkvm.persistence;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import io.quarkvm.domain.Migration;
import io.quarkvm.domain.MigrationPhase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.LockModeType;
import jakarta.persistence.Table;
import jakarta.persistence.Version;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/** A live migration (V6__live_migration.sql). */
@Entity
@Table(name = "migration")
public class MigrationEntity extends PanacheEntityBase {

    @Id
    public UUID id;

    @Column(name = "vm_id", updatable = false)
    public UUID vmId;

    @Column(name = "source_node", updatable = false)
    public String sourceNode;

    @Column(name = "target_node", updatable = false)
    public String targetNode;

    @Enumerated(EnumType.STRING)
    public MigrationPhase phase;

    @Column(name = "downtime_limit_ms", updatable = false)
    public int downtimeLimitMs;

    public int rounds;

    @Column(name = "bytes_sent")
    public long bytesSent;

    @Column(name = "dirty_pages_last_round")
    public Long dirtyPagesLastRound;

    @Column(name = "dirty_rate_mibs")
    public Double dirtyRateMiBs;

    @Column(name = "downtime_ms")
    public Long downtimeMs;

    @Column(name = "total_ms")
    public Long totalMs;

    public Boolean converged;

    public String error;

    @Column(name = "started_at", updatable = false)
    public Instant startedAt;

    @Column(name = "ended_at")
    public Instant endedAt;

    @Column(name = "paused_at")
    public Instant pausedAt;

    @Column(name = "resumed_at")
    public Instant resumedAt;

    @Version
    public long version;

    public Migration toDomain() {
        return new Migration(id, vmId, sourceNode, targetNode, phase, downtimeLimitMs, rounds, bytesSent,
                dirtyPagesLastRound, dirtyRateMiBs, converged, downtimeMs, totalMs, error, startedAt, endedAt, pausedAt,
                resumedAt);
    }

    /** SELECT ... FOR UPDATE: the caller decides on the phase it finds, and nobody changes it meanwhile. */
    public static Optional<MigrationEntity> findLocked(UUID id) {
        return findByIdOptional(id, LockModeType.PESSIMISTIC_WRITE);
    }

    /** The VM's migration that has not ended, if there is one (the database allows one at most). */
    public static Optional<MigrationEntity> unfinishedOf(UUID vmId) {
        return find("vmId = ?1 and phase in ?2", vmId, MigrationPhase.UNFINISHED).firstResultOptional();
    }

    /** Newest first. */
    public static List<MigrationEntity> ofVm(UUID vmId) {
        return list("vmId = ?1 order by startedAt desc, id", vmId);
    }

    /** The unfinished migrations a node sends or receives. */
    public static List<MigrationEntity> unfinishedThrough(String node) {
        return list("(sourceNode = ?1 or targetNode = ?1) and phase in ?2 order by startedAt", node,
                MigrationPhase.UNFINISHED);
    }
}
