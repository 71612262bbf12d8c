-- 0005: API tokens. Identity comes from a credential, never from a typed
-- name: each token authenticates as one name with its grants.
--
-- Same conventions as 0001 to 0004. The secret is never stored: hash is
-- the hex SHA-256 of it, unique so that a lookup by it finds one token.
-- grants is a comma-separated list of ROLE:ENV. expires_ms is 0 for a
-- token that does not expire. Revoking a token deletes its row.
CREATE TABLE tokens (
    name       TEXT   NOT NULL PRIMARY KEY,
    hash       TEXT   NOT NULL UNIQUE,
    grants     TEXT   NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL DEFAULT 0
);
