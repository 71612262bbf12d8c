-- 0001: ladder's first schema.
--
-- Written to run unchanged on PostgreSQL except where marked "PostgreSQL:".
-- Times are BIGINT Unix milliseconds UTC (no engine-specific date types, no
-- time zone surprises); JSON is TEXT (PostgreSQL could use JSONB later).
-- Text columns are NOT NULL DEFAULT '' so that "empty" has one spelling and
-- equality filters never have to think about NULL.

-- Snapshots are immutable: rows are inserted once and never updated.
CREATE TABLE snapshots (
    id         TEXT   NOT NULL PRIMARY KEY, -- 64 lowercase hex digits
    stack      TEXT   NOT NULL,
    stack_hash TEXT   NOT NULL,
    artifacts  TEXT   NOT NULL,             -- JSON object: service -> artifact
    revision   TEXT   NOT NULL DEFAULT '',
    created_ms BIGINT NOT NULL
);
-- ListSnapshots orders by creation, newest first.
CREATE INDEX snapshots_by_created ON snapshots (created_ms, id);

-- The build cache: the primary key is the (service, inputs) lookup index.
CREATE TABLE artifacts (
    service TEXT   NOT NULL,
    inputs  TEXT   NOT NULL,
    digest  TEXT   NOT NULL,
    builder TEXT   NOT NULL DEFAULT '',
    size    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (service, inputs)
);

-- PostgreSQL: id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY.
-- AUTOINCREMENT (not a bare rowid) so an ID is never reused, even if the
-- newest rows are ever pruned.
CREATE TABLE releases (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    env         TEXT    NOT NULL DEFAULT '',
    site        TEXT    NOT NULL DEFAULT '',
    snapshot    TEXT    NOT NULL DEFAULT '',
    phase       TEXT    NOT NULL,
    reason      TEXT    NOT NULL DEFAULT '',
    owner       TEXT    NOT NULL DEFAULT '',
    started_ms  BIGINT  NOT NULL,
    finished_ms BIGINT                      -- NULL until the release is finished
);
CREATE INDEX releases_by_env_site ON releases (env, site, id);
CREATE INDEX releases_by_snapshot ON releases (snapshot, id);

-- PostgreSQL: id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY.
-- Event IDs are the tailing cursor, so they must never be reused.
CREATE TABLE events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms  BIGINT  NOT NULL,
    kind     TEXT    NOT NULL,
    env      TEXT    NOT NULL DEFAULT '',
    site     TEXT    NOT NULL DEFAULT '',
    snapshot TEXT    NOT NULL DEFAULT '',
    service  TEXT    NOT NULL DEFAULT '',
    message  TEXT    NOT NULL DEFAULT '',
    attrs    TEXT                           -- JSON object, NULL when empty
);
CREATE INDEX events_by_env_site ON events (env, site, id);
CREATE INDEX events_by_snapshot ON events (snapshot, id);

-- One row per supervised replica; the primary key is the identity.
CREATE TABLE instances (
    env        TEXT   NOT NULL,
    site       TEXT   NOT NULL,
    service    TEXT   NOT NULL,
    slot       TEXT   NOT NULL,
    snapshot   TEXT   NOT NULL DEFAULT '',
    digest     TEXT   NOT NULL DEFAULT '',
    config     TEXT   NOT NULL DEFAULT '',
    pid        BIGINT NOT NULL DEFAULT 0,
    port       BIGINT NOT NULL DEFAULT 0,
    owner      TEXT   NOT NULL DEFAULT '',
    started_ms BIGINT NOT NULL,
    PRIMARY KEY (env, site, service, slot)
);

-- PostgreSQL: id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY.
-- id only breaks ties between samples taken in the same millisecond, so a
-- plain rowid alias (no AUTOINCREMENT) is enough.
CREATE TABLE samples (
    id           INTEGER PRIMARY KEY,
    time_ms      BIGINT           NOT NULL,
    env          TEXT             NOT NULL DEFAULT '',
    site         TEXT             NOT NULL DEFAULT '',
    snapshot     TEXT             NOT NULL DEFAULT '',
    service      TEXT             NOT NULL DEFAULT '',
    request_rate DOUBLE PRECISION NOT NULL,
    error_rate   DOUBLE PRECISION NOT NULL,
    p50          DOUBLE PRECISION NOT NULL,
    p95          DOUBLE PRECISION NOT NULL
);
CREATE INDEX samples_by_env_site_service_time ON samples (env, site, service, time_ms);
