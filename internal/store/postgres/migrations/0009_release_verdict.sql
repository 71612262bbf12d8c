-- 0009: a release keeps its known-good verdict (why it is, or is not,
-- known-good, once judged) in its own row, so that a page of history reads
-- it with the releases instead of decoding every verdict event of the
-- environment. Releases judged before take the first verdict their events
-- recorded (kind release.judged, the release's ID in attrs.release).
--
-- Same conventions as 0001 to 0004.
ALTER TABLE releases ADD COLUMN verdict TEXT NOT NULL DEFAULT '';

UPDATE releases SET verdict = judged.message
FROM (
    SELECT DISTINCT ON (release_id) release_id, message
    FROM (
        SELECT (attrs::jsonb ->> 'release')::bigint AS release_id, message, id
        FROM events
        WHERE kind = 'release.judged' AND attrs IS NOT NULL
          AND attrs::jsonb ->> 'release' ~ '^[0-9]{1,18}$'
    ) AS verdicts
    ORDER BY release_id, id
) AS judged
WHERE releases.id = judged.release_id;
