-- Each start of a VM is a boot; what the guest itself read on each vCPU during that boot is kept, so a later boot
-- (after a restart, a service crash or a migration) can be compared with the earlier ones.
CREATE TABLE guest_boot (
    id          BIGSERIAL    PRIMARY KEY,
    vm_id       UUID         NOT NULL REFERENCES vm (id) ON DELETE CASCADE,
    boot        INTEGER      NOT NULL CHECK (boot >= 1),
    node        VARCHAR(253) NOT NULL,
    provider    VARCHAR(32)  NOT NULL,
    started_at  TIMESTAMPTZ  NOT NULL,
    ended_at    TIMESTAMPTZ,
    end_reason  TEXT,
    CONSTRAINT guest_boot_unique UNIQUE (vm_id, boot)
);

-- One row per vCPU that ran in a boot: its persisted identity next to what the probe observed.
CREATE TABLE guest_vcpu_observation (
    id                   BIGSERIAL PRIMARY KEY,
    boot_id              BIGINT    NOT NULL REFERENCES guest_boot (id) ON DELETE CASCADE,
    cpu_index            INTEGER   NOT NULL,
    apic_id              INTEGER   NOT NULL,
    vp_index             INTEGER   NOT NULL,
    reported_at          TIMESTAMPTZ,
    observed_apic_id     INTEGER,
    observed_x2apic_id   INTEGER,
    observed_vp_index    INTEGER,
    hyperv_leaves_found  BOOLEAN,
    vp_index_write_refused BOOLEAN,
    heartbeats           BIGINT    NOT NULL DEFAULT 0,
    violations           INTEGER   NOT NULL DEFAULT 0,
    CONSTRAINT guest_vcpu_observation_unique UNIQUE (boot_id, cpu_index)
);

-- The reconciler restarts a crashed VM only after this instant (exponential back-off against crash loops).
ALTER TABLE vm ADD COLUMN restart_not_before TIMESTAMPTZ;
ALTER TABLE vm ADD COLUMN crash_count INTEGER NOT NULL DEFAULT 0;
