package spec

import (
	"path/filepath"
	"testing"
)

func TestPositions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "proj")
	writeFiles(t, dir, map[string]string{
		"compose.yaml": `services:
  db:
    image: postgres
  api:
    image: api
    depends_on: [db]
  web:
    image: web
    depends_on:
      api: {condition: service_started}
`,
		"ladder.yaml": `environments:
  local: {}
  prod:
    from: local
    secrets: [A, B]
    values:
      services:
        web:
          environment: {X: "1"}
`,
	})
	p := mustLoad(t, dir, LoadOptions{})
	tests := []struct {
		got  Pos
		want Pos
	}{
		{p.LadderPos("environments", "prod"), Pos{"ladder.yaml", 3, 3, "environments.prod"}},
		{p.LadderPos("environments", "prod", "from"), Pos{"ladder.yaml", 4, 5, "environments.prod.from"}},
		{p.LadderPos("environments", "prod", "secrets", "B"), Pos{"ladder.yaml", 5, 18, "environments.prod.secrets[1]"}},
		{p.LadderPos("environments", "prod", "secrets", "0"), Pos{"ladder.yaml", 5, 15, "environments.prod.secrets[0]"}},
		{p.LadderPos("environments", "prod", "values", "services", "web", "environment", "X"), Pos{"ladder.yaml", 9, 25, "environments.prod.values.services.web.environment.X"}},
		// Not written: the deepest part that is.
		{p.LadderPos("environments", "prod", "gates", "signed"), Pos{"ladder.yaml", 3, 3, "environments.prod"}},
		{p.StackPos("services", "api", "depends_on", "db"), Pos{"compose.yaml", 6, 18, "services.api.depends_on[0]"}},
		{p.StackPos("services", "web", "depends_on", "api"), Pos{"compose.yaml", 10, 7, "services.web.depends_on.api"}},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %+v, want %+v", tt.got, tt.want)
		}
	}
	// A project made by hand has no positions: the top of the file.
	bare := &Project{Ladder: DefaultLadder()}
	if got := bare.LadderPos("environments", "local"); got != (Pos{"ladder.yaml", 1, 1, "environments.local"}) {
		t.Errorf("bare LadderPos = %+v", got)
	}
	if got := bare.StackPos("services", "x"); got != (Pos{"compose.yaml", 1, 1, "services.x"}) {
		t.Errorf("bare StackPos = %+v", got)
	}
}

func TestEnvironmentTiers(t *testing.T) {
	lite := &Environment{Values: Values{Tier: TierLite}}
	full := &Environment{}
	for _, tt := range []struct {
		env  *Environment
		ext  ServiceExt
		runs bool
	}{
		{lite, ServiceExt{}, true},
		{lite, ServiceExt{Tier: TierStandard}, false},
		{full, ServiceExt{Tier: TierFull}, true},
		{&Environment{Values: Values{Tier: TierStandard}}, ServiceExt{Tier: TierStandard}, true},
		{&Environment{Values: Values{Tier: TierStandard}}, ServiceExt{Tier: TierFull}, false},
	} {
		if got := tt.env.Runs(tt.ext); got != tt.runs {
			t.Errorf("tier %s runs %s: %v, want %v", tt.env.Tier(), tt.ext.ServiceTier(), got, tt.runs)
		}
	}
}
