-- 0004: leases replace locks; releases are numbered per environment and
-- every change of a release's phase is recorded.
--
-- Same conventions as 0001 to 0003.

-- A lease is the right to act on something (env/NAME, deploy/ENV/SITE,
-- agent/ENV) until expires_ms. A released lease keeps its row with an
-- empty holder and expires_ms 0, so that epoch never goes back: each grant
-- to a new holder is epoch + 1.
CREATE TABLE leases (
    name            TEXT   NOT NULL PRIMARY KEY,
    holder_host     TEXT   NOT NULL,
    holder_pid      BIGINT NOT NULL,
    holder_instance TEXT   NOT NULL,
    epoch           BIGINT NOT NULL,
    expires_ms      BIGINT NOT NULL
);

-- The locks table served promotions only, with liveness judged by PIDs;
-- leases hold what it held.
DROP TABLE locks;

-- The release's number within its environment: 1, 2, 3, ... per env.
ALTER TABLE releases ADD COLUMN number BIGINT NOT NULL DEFAULT 0;
UPDATE releases SET number = (SELECT COUNT(*) FROM releases r WHERE r.env = releases.env AND r.id <= releases.id);
CREATE UNIQUE INDEX releases_by_env_number ON releases (env, number);

-- One row per change of a release's phase; seq counts 1, 2, ... per
-- release (the phase compare-and-set that records it serialises them).
CREATE TABLE release_transitions (
    release_id BIGINT NOT NULL REFERENCES releases (id),
    seq        BIGINT NOT NULL,
    from_phase TEXT   NOT NULL,
    to_phase   TEXT   NOT NULL,
    reason     TEXT   NOT NULL DEFAULT '',
    at_ms      BIGINT NOT NULL,
    PRIMARY KEY (release_id, seq)
);
