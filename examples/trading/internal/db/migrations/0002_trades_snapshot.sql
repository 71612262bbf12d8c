-- v2 (expand): which snapshot of the trades API placed each trade. The
-- column is nullable and has no default, so code from before v2 keeps
-- inserting trades without it (rows with NULL), and a rollback to such
-- code needs no schema change. Seeded trades have none.
ALTER TABLE trades ADD COLUMN snapshot text;
