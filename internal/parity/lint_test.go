package parity

import (
	"slices"
	"strings"
	"testing"
)

func TestLintGolden(t *testing.T) {
	golden(t, "lint", func(t *testing.T, a archive) string {
		p := a.load(t)
		vs := Lint(p, a.secretNames)
		var b strings.Builder
		for _, v := range vs {
			if v.Line <= 0 || v.Col <= 0 || v.File == "" || v.Path == "" || v.Message == "" {
				t.Errorf("violation without a position or text: %#v", v)
			}
			if !slices.ContainsFunc(Rules, func(r Rule) bool { return r.ID == v.Rule }) {
				t.Errorf("unknown rule %q", v.Rule)
			}
			b.WriteString(v.String() + "\n")
		}
		if len(vs) == 0 {
			b.WriteString("clean\n")
		}
		// Lint is a pure function of its inputs.
		for range 3 {
			if again := Lint(p, a.secretNames); !slices.Equal(again, vs) {
				t.Fatalf("a second lint differs:\n%v\nvs\n%v", again, vs)
			}
		}
		return b.String()
	})
}

func TestViolationString(t *testing.T) {
	v := Violation{Rule: RuleRungOrder, File: "ladder.yaml", Line: 3, Col: 5, Path: "environments.dev", Message: "no from"}
	if got, want := v.String(), "ladder.yaml:3:5: environments.dev: no from (rule rung-order)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestHosts(t *testing.T) {
	tests := map[string]string{
		"postgres://app:pw@db.prod.internal:5432/app": "db.prod.internal",
		"db.prod.internal:5432":                       "db.prod.internal",
		"10.1.2.3:6379, 10.1.2.4:6379":                "10.1.2.3 10.1.2.4",
		"[fd00::1]:80":                                "fd00::1",
		"https://API.Example.com/v1":                  "api.example.com",
		"users:8080":                                  "users",
		"db.example.com":                              "db.example.com",
		"debug":                                       "",
		"1.5":                                         "",
		"12:30":                                       "",
		"on":                                          "",
		"v1.2.3":                                      "",
	}
	for in, want := range tests {
		if got := strings.Join(hosts(in), " "); got != want {
			t.Errorf("hosts(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCredential(t *testing.T) {
	for in, want := range map[string]bool{
		"postgres://app:s3cret@db:5432/app": true,
		"postgres://app@db:5432/app":        false,
		"postgres://app:@db/app":            false,
		"host=db user=app password=x":       true,
		"Server=db;Password=x":              true,
		"http://users:8080":                 false,
		"plain":                             false,
	} {
		if got := credential(in); got != want {
			t.Errorf("credential(%q) = %v, want %v", in, got, want)
		}
	}
}
