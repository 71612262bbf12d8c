-- 0008: the reads of one environment, newest first, walk an index in ID
-- order instead of sorting every row of the environment: a page of its
-- events, the known-good verdicts (events of one kind), and a page of its
-- releases. On a fleet (hundreds of sites, tens of thousands of events)
-- those sorts were what a page of history or events cost.
--
-- Same conventions as 0001 to 0004.
CREATE INDEX events_by_env ON events (env, id);
CREATE INDEX events_by_env_kind ON events (env, kind, id);
CREATE INDEX releases_by_env ON releases (env, id);
