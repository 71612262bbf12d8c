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
    -- With MIN(id), SQLite takes message from the row holding the minimum:
    -- the first verdict of each release.
    SELECT CAST(json_extract(attrs, '$.release') AS INTEGER) AS release_id, message, MIN(id)
    FROM events
    WHERE kind = 'release.judged' AND json_valid(attrs)
    GROUP BY release_id
) AS judged
WHERE releases.id = judged.release_id;
