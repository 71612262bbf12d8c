package storetest

// LegacyVerdicts are rows of a store at schema version 8, in SQL both
// stores run: three releases of prod, whose known-good verdicts are only
// in their events (kind release.judged, the release's ID in
// attrs.release), with a later second verdict, a verdict naming no
// release and an event of another kind. An upgrade keeps each release's
// first verdict: LegacyVerdictsWant, by release ID.
var LegacyVerdicts = []string{
	`INSERT INTO releases (env, site, snapshot, phase, started_ms, number) VALUES ('prod', 'eu-1', 'a', 'succeeded', 1000, 1)`,
	`INSERT INTO releases (env, site, snapshot, phase, started_ms, number) VALUES ('prod', 'eu-1', 'b', 'succeeded', 2000, 2)`,
	`INSERT INTO releases (env, site, snapshot, phase, started_ms, number) VALUES ('prod', 'eu-1', 'c', 'succeeded', 3000, 3)`,
	`INSERT INTO events (time_ms, kind, env, message, attrs) VALUES (1, 'release.judged', 'prod', 'soaked 10m: healthy', '{"release":"1","knownGood":"true"}')`,
	`INSERT INTO events (time_ms, kind, env, message, attrs) VALUES (2, 'release.judged', 'prod', 'trades: errors > 5.0%', '{"release":"2","knownGood":"false"}')`,
	`INSERT INTO events (time_ms, kind, env, message, attrs) VALUES (3, 'release.judged', 'prod', 'a later verdict', '{"release":"1"}')`,
	`INSERT INTO events (time_ms, kind, env, message, attrs) VALUES (4, 'release.judged', 'prod', 'no release named', NULL)`,
	`INSERT INTO events (time_ms, kind, env, message, attrs) VALUES (5, 'deploy.succeeded', 'prod', 'not a verdict', '{"release":"3"}')`,
}

// LegacyVerdictsWant is each release's verdict once LegacyVerdicts are
// upgraded.
var LegacyVerdictsWant = map[int64]string{1: "soaked 10m: healthy", 2: "trades: errors > 5.0%", 3: ""}
