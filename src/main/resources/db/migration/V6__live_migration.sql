-- What a node offers a VM, published at registration (/proc/meminfo MemTotal and KVM_CAP_MAX_VCPUS unless the
-- operator sets quarkvm.node.memory-mib / max-vcpus): a migration target must offer what the VM needs. Null for a
-- node registered by a version before this one, which cannot receive a migration.
ALTER TABLE node ADD COLUMN memory_mib INTEGER CHECK (memory_mib >= 0);
ALTER TABLE node ADD COLUMN max_vcpus INTEGER CHECK (max_vcpus >= 0);

-- One row per live migration (docs/MIGRATION.md). Every change of phase is a conditional update of this row, so the
-- database decides every race between source, target and a client's cancel.
CREATE TABLE migration (
    id                      UUID             PRIMARY KEY,
    vm_id                   UUID             NOT NULL REFERENCES vm (id) ON DELETE CASCADE,
    source_node             VARCHAR(253)     NOT NULL,
    target_node             VARCHAR(253)     NOT NULL CHECK (target_node <> source_node),
    phase                   VARCHAR(16)      NOT NULL
        CHECK (phase IN ('SETUP', 'PRECOPY', 'STOP_AND_COPY', 'COMPLETED', 'FAILED', 'CANCELLED')),
    downtime_limit_ms       INTEGER          NOT NULL CHECK (downtime_limit_ms BETWEEN 1 AND 60000),
    rounds                  INTEGER          NOT NULL DEFAULT 0 CHECK (rounds >= 0),
    bytes_sent              BIGINT           NOT NULL DEFAULT 0 CHECK (bytes_sent >= 0),
    dirty_pages_last_round  BIGINT           CHECK (dirty_pages_last_round >= 0),
    dirty_rate_mibs         DOUBLE PRECISION CHECK (dirty_rate_mibs >= 0),
    downtime_ms             BIGINT           CHECK (downtime_ms >= 0),
    total_ms                BIGINT           CHECK (total_ms >= 0),
    error                   TEXT,
    started_at              TIMESTAMPTZ      NOT NULL,
    ended_at                TIMESTAMPTZ,
    version                 BIGINT           NOT NULL,
    CONSTRAINT migration_ended_when_finished
        CHECK ((ended_at IS NULL) = (phase IN ('SETUP', 'PRECOPY', 'STOP_AND_COPY')))
);

-- At most one unfinished migration per VM, whichever node took each request: the second insert fails.
CREATE UNIQUE INDEX migration_one_unfinished_per_vm ON migration (vm_id)
    WHERE phase IN ('SETUP', 'PRECOPY', 'STOP_AND_COPY');
CREATE INDEX migration_of_vm ON migration (vm_id, started_at);

-- The nodes a boot ran on: the node that opened it, then one row per migration that moved it, so a guest's
-- observations can be told apart by where they were made.
CREATE TABLE guest_boot_residence (
    id            BIGSERIAL     PRIMARY KEY,
    boot_id       BIGINT        NOT NULL REFERENCES guest_boot (id) ON DELETE CASCADE,
    node          VARCHAR(253)  NOT NULL,
    hypervisor    VARCHAR(16)   NOT NULL CHECK (hypervisor IN ('KVM', 'EMULATED')),
    provider      VARCHAR(32)   NOT NULL,
    arrived_at    TIMESTAMPTZ   NOT NULL,
    migration_id  UUID          REFERENCES migration (id) ON DELETE CASCADE
);
CREATE INDEX guest_boot_residence_of_boot ON guest_boot_residence (boot_id);

-- Boots before this migration never moved: they resided where they started.
INSERT INTO guest_boot_residence (boot_id, node, hypervisor, provider, arrived_at)
SELECT id, node, hypervisor, provider, started_at FROM guest_boot;
