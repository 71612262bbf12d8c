-- 0003: the store's identity, the runtime each release ran on, the
-- fingerprints of the secrets a release injected, and folded samples.
--
-- Same conventions as 0001 and 0002.

-- One row per setting. "id" is the store's identity, a random value made
-- when the store is created; it is also written to store.id beside the
-- database so that a deleted, replaced or emptied database is noticed
-- instead of silently starting a new, empty history.
CREATE TABLE store_meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);

-- The target kind (process, compose, ...) the release ran on.
ALTER TABLE releases ADD COLUMN target TEXT NOT NULL DEFAULT '';
-- JSON object "service/VARIABLE" -> keyed fingerprint; NULL when none.
ALTER TABLE releases ADD COLUMN secret_fingerprints TEXT;

-- span_ms is 0 for a sample as scraped, else the span of the bucket a
-- folded sample stands for (retention folds old samples into buckets).
ALTER TABLE samples ADD COLUMN span_ms BIGINT NOT NULL DEFAULT 0;
-- Retention walks samples by age.
CREATE INDEX samples_by_time ON samples (time_ms, span_ms);
-- Retention deletes events and audit entries by age.
CREATE INDEX events_by_time ON events (time_ms);
CREATE INDEX audit_by_time ON audit (time_ms);
