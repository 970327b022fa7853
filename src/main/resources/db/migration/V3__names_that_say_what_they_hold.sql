-- The 8-bit APIC ID of CPUID 0x1 EBX[31:24]; the full one is observed_x2apic_id (CPUID 0xB EDX).
ALTER TABLE guest_vcpu_observation RENAME COLUMN observed_apic_id TO observed_apic_id_leaf1;

-- The VP index policy is a fixed function of the (immutable, versioned) machine type: one source of truth.
ALTER TABLE vm DROP COLUMN vp_index_policy;
