-- One row per VM: its fixed specification, its desired state (what the API asked for) and its observed phase.
CREATE TABLE vm (
    id               UUID         PRIMARY KEY,
    name             VARCHAR(63)  NOT NULL UNIQUE,
    machine_type     VARCHAR(32)  NOT NULL,
    vp_index_policy  VARCHAR(16)  NOT NULL,
    sockets          INTEGER      NOT NULL CHECK (sockets >= 1),
    dies             INTEGER      NOT NULL CHECK (dies >= 1),
    cores            INTEGER      NOT NULL CHECK (cores >= 1),
    threads          INTEGER      NOT NULL CHECK (threads >= 1),
    memory_mib       INTEGER      NOT NULL CHECK (memory_mib >= 1),
    hyperv_vpindex   BOOLEAN      NOT NULL,
    guest_kind       VARCHAR(32)  NOT NULL,
    desired_state    VARCHAR(16)  NOT NULL,
    phase            VARCHAR(16)  NOT NULL,
    node             VARCHAR(253),
    last_error       TEXT,
    created_at       TIMESTAMPTZ  NOT NULL,
    updated_at       TIMESTAMPTZ  NOT NULL,
    version          BIGINT       NOT NULL
);

-- One row per slot that has ever been plugged. Identities are written once and never recomputed; an unplugged
-- slot keeps its row (plugged = false), so its cpu_index is never taken by another slot and a replug gets it back.
CREATE TABLE vcpu (
    id          BIGSERIAL PRIMARY KEY,
    vm_id       UUID     NOT NULL REFERENCES vm (id) ON DELETE CASCADE,
    cpu_index   INTEGER  NOT NULL CHECK (cpu_index >= 0),
    apic_id     INTEGER  NOT NULL CHECK (apic_id >= 0),
    vp_index    INTEGER  NOT NULL CHECK (vp_index >= 0),
    socket      INTEGER  NOT NULL CHECK (socket >= 0),
    die         INTEGER  NOT NULL CHECK (die >= 0),
    core        INTEGER  NOT NULL CHECK (core >= 0),
    thread      INTEGER  NOT NULL CHECK (thread >= 0),
    plugged     BOOLEAN  NOT NULL,
    CONSTRAINT vcpu_cpu_index_unique UNIQUE (vm_id, cpu_index),
    CONSTRAINT vcpu_apic_id_unique   UNIQUE (vm_id, apic_id),
    CONSTRAINT vcpu_vp_index_unique  UNIQUE (vm_id, vp_index),
    CONSTRAINT vcpu_slot_unique      UNIQUE (vm_id, socket, die, core, thread)
);

-- Every service instance is a node: what its kernel can do, where it answers, and when it last said so.
CREATE TABLE node (
    name            VARCHAR(253) PRIMARY KEY,
    url             VARCHAR(2048),
    provider        VARCHAR(32)  NOT NULL,
    capabilities    TEXT         NOT NULL,
    can_run_vms     BOOLEAN      NOT NULL,
    reason          TEXT,
    started_at      TIMESTAMPTZ  NOT NULL,
    last_heartbeat  TIMESTAMPTZ  NOT NULL,
    version         BIGINT       NOT NULL
);
