-- When the source asked the VM to pause (its clock) and when the target had it running again (the target's clock),
-- to the microsecond: the guest's own downtime, where both nodes' clocks agree (downtime_ms stays the source's
-- clock-independent measure, which ends at the target's answer). Null until the source records them.
ALTER TABLE migration ADD COLUMN paused_at TIMESTAMPTZ, ADD COLUMN resumed_at TIMESTAMPTZ;
