-- Every VM event, written in the transaction of the change it describes, so a client can resume its event stream
-- where it left it (Last-Event-ID). A reader asks for the rows after the last id it has seen, so ids must become
-- visible in increasing order: an id is given at COMMIT, not at INSERT (a transaction that inserted first may
-- commit last). Until then a row carries a provisional negative id.
CREATE SEQUENCE vm_event_id_seq;
CREATE SEQUENCE vm_event_provisional_id_seq;

CREATE TABLE vm_event (
    id          BIGINT       PRIMARY KEY DEFAULT -nextval('vm_event_provisional_id_seq'),
    vm_id       UUID         NOT NULL,
    vm_name     VARCHAR(63)  NOT NULL,
    type        VARCHAR(32)  NOT NULL,
    -- json, not jsonb: streamed as it was written
    payload     JSON         NOT NULL,
    created_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    node        VARCHAR(253)
);
CREATE INDEX vm_event_created_at ON vm_event (created_at);

-- Runs at COMMIT (deferred), once per row in insertion order. The transaction-level advisory lock is held until
-- the transaction has ended, and PostgreSQL releases it only after the commit is visible to others: the next
-- committing transaction numbers its rows after that, so id n+1 never becomes visible before id n.
CREATE FUNCTION vm_event_number_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('quarkvm.vm_event.commit_order'));
    UPDATE vm_event SET id = nextval('vm_event_id_seq') WHERE id = NEW.id;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER vm_event_number_at_commit
    AFTER INSERT ON vm_event
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION vm_event_number_at_commit();

-- The highest id pruned so far: a reader resuming after an older id learns that events were lost (a gap), while
-- ids that never appear (a transaction that failed after numbering) are no loss.
CREATE TABLE vm_event_pruned (
    singleton    BOOLEAN  PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    through_id   BIGINT   NOT NULL
);
INSERT INTO vm_event_pruned (through_id) VALUES (0);
