-- 0006: what admits a snapshot to a rung, held in the store instead of the
-- working tree: single-use deploy grants, trusted signing keys and each
-- rung's pinned gate policy.
--
-- Same conventions as 0001 to 0004. (0005 is another change's number:
-- migrations are applied by the set recorded, so gaps are fine.)

-- A grant is stored by the SHA-256 of its token, never the token itself.
-- used_ms is 0 until it is consumed.
CREATE TABLE deploy_grants (
    hash       TEXT   NOT NULL PRIMARY KEY,
    env        TEXT   NOT NULL,
    snapshot   TEXT   NOT NULL,
    purpose    TEXT   NOT NULL DEFAULT '',
    issued_ms  BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    used_ms    BIGINT NOT NULL DEFAULT 0
);

-- revoked_ms is 0 while the key is trusted.
CREATE TABLE trusted_keys (
    fingerprint TEXT   NOT NULL PRIMARY KEY,
    pem         TEXT   NOT NULL,
    added_ms    BIGINT NOT NULL,
    added_by    TEXT   NOT NULL DEFAULT '',
    revoked_ms  BIGINT NOT NULL DEFAULT 0,
    revoked_by  TEXT   NOT NULL DEFAULT ''
);

CREATE TABLE pinned_policies (
    env       TEXT   NOT NULL PRIMARY KEY,
    policy    TEXT   NOT NULL,
    pinned_ms BIGINT NOT NULL,
    by_actor  TEXT   NOT NULL DEFAULT ''
);
