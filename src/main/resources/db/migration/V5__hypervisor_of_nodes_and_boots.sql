-- Which backend a node runs its guests on (KVM, EMULATED, NONE), and which one each boot ran on, so that what a
-- guest saw can be told apart by backend. Rows from before this migration came from KVM-only nodes.
ALTER TABLE node ADD COLUMN hypervisor VARCHAR(16) NOT NULL DEFAULT 'NONE'
    CHECK (hypervisor IN ('KVM', 'EMULATED', 'NONE'));
UPDATE node SET hypervisor = 'KVM' WHERE can_run_vms;

ALTER TABLE guest_boot ADD COLUMN hypervisor VARCHAR(16) NOT NULL DEFAULT 'KVM'
    CHECK (hypervisor IN ('KVM', 'EMULATED'));
ALTER TABLE guest_boot ALTER COLUMN hypervisor DROP DEFAULT;
