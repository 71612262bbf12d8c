-- 0001: ladder's first schema (PostgreSQL), the same tables and columns as
-- SQLite's 0001_init.sql.
--
-- Times are BIGINT Unix milliseconds UTC; JSON is TEXT; text columns are
-- NOT NULL DEFAULT '' so that "empty" has one spelling. IDs are identity
-- columns: a sequence never hands out a value twice, so IDs are never
-- reused (what SQLite's AUTOINCREMENT guarantees). Columns that lists order
-- by are COLLATE "C": bytewise order, as SQLite's, whatever the database's
-- locale, and a prefix range on snapshot IDs that the primary key serves.

-- Snapshots are immutable: rows are inserted once and never updated.
CREATE TABLE snapshots (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY, -- 64 lowercase hex digits
    stack      TEXT   NOT NULL,
    stack_hash TEXT   NOT NULL,
    artifacts  TEXT   NOT NULL,                       -- JSON object: service -> artifact
    revision   TEXT   NOT NULL DEFAULT '',
    created_ms BIGINT NOT NULL
);
CREATE INDEX snapshots_by_created ON snapshots (created_ms, id);

CREATE TABLE artifacts (
    service TEXT   NOT NULL,
    inputs  TEXT   NOT NULL,
    digest  TEXT   NOT NULL,
    builder TEXT   NOT NULL DEFAULT '',
    size    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (service, inputs)
);

CREATE TABLE releases (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    env         TEXT   NOT NULL DEFAULT '',
    site        TEXT   NOT NULL DEFAULT '',
    snapshot    TEXT   NOT NULL DEFAULT '',
    phase       TEXT   NOT NULL,
    reason      TEXT   NOT NULL DEFAULT '',
    owner       TEXT   NOT NULL DEFAULT '',
    started_ms  BIGINT NOT NULL,
    finished_ms BIGINT                        -- NULL until the release is finished
);
CREATE INDEX releases_by_env_site ON releases (env, site, id);
CREATE INDEX releases_by_snapshot ON releases (snapshot, id);

-- Event IDs are the tailing cursor; AppendEvent commits them in ID order.
CREATE TABLE events (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time_ms  BIGINT NOT NULL,
    kind     TEXT   NOT NULL,
    env      TEXT   NOT NULL DEFAULT '',
    site     TEXT   NOT NULL DEFAULT '',
    snapshot TEXT   NOT NULL DEFAULT '',
    service  TEXT   NOT NULL DEFAULT '',
    message  TEXT   NOT NULL DEFAULT '',
    attrs    TEXT                             -- JSON object, NULL when empty
);
CREATE INDEX events_by_env_site ON events (env, site, id);
CREATE INDEX events_by_snapshot ON events (snapshot, id);

CREATE TABLE instances (
    env        TEXT COLLATE "C" NOT NULL,
    site       TEXT COLLATE "C" NOT NULL,
    service    TEXT COLLATE "C" NOT NULL,
    slot       TEXT COLLATE "C" NOT NULL,
    snapshot   TEXT   NOT NULL DEFAULT '',
    digest     TEXT   NOT NULL DEFAULT '',
    config     TEXT   NOT NULL DEFAULT '',
    pid        BIGINT NOT NULL DEFAULT 0,
    port       BIGINT NOT NULL DEFAULT 0,
    owner      TEXT   NOT NULL DEFAULT '',
    started_ms BIGINT NOT NULL,
    PRIMARY KEY (env, site, service, slot)
);

-- id only breaks ties between samples taken in the same millisecond.
CREATE TABLE samples (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
