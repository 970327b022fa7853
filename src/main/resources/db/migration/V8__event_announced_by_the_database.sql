-- Every event logged is announced on the channel quarkvm_event (io.quarkvm.persistence.DatabaseNotifications
-- listens there) by the commit trigger that numbers it, so a writer spends no round trip of its own on NOTIFY and
-- cannot forget it. The payload is what a listener needs to wake the right reconciler: the type and the VM's id.
-- PostgreSQL delivers it only if the transaction commits. A node of the previous version also sends its own
-- announcement: a second wake-up, which changes nothing.
CREATE OR REPLACE FUNCTION vm_event_number_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('quarkvm.vm_event.commit_order'));
    UPDATE vm_event SET id = nextval('vm_event_id_seq') WHERE id = NEW.id;
    PERFORM pg_notify('quarkvm_event', json_build_object('type', NEW.type, 'vmId', NEW.vm_id)::text);
    RETURN NULL;
END;
$$;
