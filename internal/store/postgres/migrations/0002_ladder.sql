-- 0002: the ladder (PostgreSQL), as SQLite's 0002_ladder.sql: promotions
-- and their gates, approvals, known-good releases, job runs, the audit
-- trail and expiring locks. Same conventions as 0001.

ALTER TABLE releases ADD COLUMN known_good    BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE releases ADD COLUMN known_good_ms BIGINT;
ALTER TABLE releases ADD COLUMN by_actor      TEXT    NOT NULL DEFAULT '';
-- Rollback looks for the newest known-good release of an env/site.
CREATE INDEX releases_known_good ON releases (env, site, id) WHERE known_good;

-- from/to/by are SQL keywords, hence from_env, to_env, by_actor.
CREATE TABLE promotions (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    snapshot   TEXT   NOT NULL DEFAULT '',
    from_env   TEXT   NOT NULL DEFAULT '',
    to_env     TEXT   NOT NULL DEFAULT '',
    phase      TEXT   NOT NULL,
    reason     TEXT   NOT NULL DEFAULT '',
    by_actor   TEXT   NOT NULL DEFAULT '',
    why        TEXT   NOT NULL DEFAULT '',
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX promotions_by_snapshot ON promotions (snapshot, id);
CREATE INDEX promotions_by_to       ON promotions (to_env, id);
CREATE INDEX promotions_by_phase    ON promotions (phase, id);

-- id only records the order results were added in.
CREATE TABLE gate_results (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    promotion BIGINT  NOT NULL REFERENCES promotions (id),
    gate      TEXT    NOT NULL DEFAULT '',
    passed    BOOLEAN NOT NULL,
    reason    TEXT    NOT NULL DEFAULT '',
    at_ms     BIGINT  NOT NULL
);
CREATE INDEX gate_results_by_promotion ON gate_results (promotion, id);

-- One approval per identity per (snapshot, env): the unique constraint is
-- both the rule and the lookup index. id breaks ties between equal times.
CREATE TABLE approvals (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    snapshot TEXT   NOT NULL,
    env      TEXT   NOT NULL,
    by_actor TEXT   NOT NULL,
    comment  TEXT   NOT NULL DEFAULT '',
    at_ms    BIGINT NOT NULL,
    UNIQUE (snapshot, env, by_actor)
);

CREATE TABLE job_runs (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    env      TEXT   NOT NULL DEFAULT '',
    site     TEXT   NOT NULL DEFAULT '',
    job      TEXT   NOT NULL DEFAULT '',
    snapshot TEXT   NOT NULL DEFAULT '',
    digest   TEXT   NOT NULL DEFAULT '',
    outcome  TEXT   NOT NULL DEFAULT '',
    at_ms    BIGINT NOT NULL
);
CREATE INDEX job_runs_by_env_time ON job_runs (env, at_ms, id);
CREATE INDEX job_runs_by_time     ON job_runs (at_ms, id);

-- The audit trail is append-only; IDs are never reused.
CREATE TABLE audit (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time_ms  BIGINT NOT NULL,
    actor    TEXT   NOT NULL DEFAULT '',
    action   TEXT   NOT NULL DEFAULT '',
    env      TEXT   NOT NULL DEFAULT '',
    site     TEXT   NOT NULL DEFAULT '',
    snapshot TEXT   NOT NULL DEFAULT '',
    outcome  TEXT   NOT NULL DEFAULT '',
    detail   TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX audit_by_env      ON audit (env, id);
CREATE INDEX audit_by_snapshot ON audit (snapshot, id);
CREATE INDEX audit_by_actor    ON audit (actor, id);
CREATE INDEX audit_by_action   ON audit (action, id);

-- A held lock is a row; a free one has none (or an expired one, which the
-- next AcquireLock overwrites). owner is the holder's identity; nothing
-- here knows about processes or machines.
CREATE TABLE locks (
    name       TEXT   NOT NULL PRIMARY KEY,
    owner      TEXT   NOT NULL,
    expires_ms BIGINT NOT NULL
);
