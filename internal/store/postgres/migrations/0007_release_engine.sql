-- 0007: a release records the engine it ran on (the Docker host of a
-- compose site, or of the engine half of a process or hybrid site), next
-- to its target kind, so that later commands about the site go to that
-- engine instead of guessing one.
--
-- Same conventions as 0001 to 0004. Releases recorded before carry ''.
ALTER TABLE releases ADD COLUMN engine TEXT NOT NULL DEFAULT '';
