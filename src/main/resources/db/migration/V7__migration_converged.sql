-- Whether pre-copy reached the downtime limit before stop-and-copy (true), or the round limit forced it (false);
-- null until the migration gets there.
ALTER TABLE migration ADD COLUMN converged BOOLEAN;
