package auth

import (
	"errors"
	"testing"
)

func TestAllowed(t *testing.T) {
	p := func(gs ...string) Principal {
		g, err := ParseGrants(gs)
		if err != nil {
			t.Fatal(err)
		}
		return Principal{Name: "x", Grants: g}
	}
	cases := []struct {
		p      Principal
		env    string
		action Action
		want   bool
	}{
		{p(), "dev", ActionRead, false},
		{p("viewer:*"), "dev", ActionRead, true},
		{p("viewer:*"), "dev", ActionDeploy, false},
		{p("deployer:dev"), "dev", ActionDeploy, true},
		{p("deployer:dev"), "dev", ActionDown, true},
		{p("deployer:dev"), "prod", ActionDeploy, false},
		{p("deployer:dev"), "dev", ActionPromote, false},
		{p("promoter:prod"), "prod", ActionPromote, true},
		{p("promoter:prod"), "prod", ActionRollback, true},
		{p("promoter:prod"), "prod", ActionApprove, false},
		{p("approver:prod"), "prod", ActionApprove, true},
		{p("approver:prod"), "prod", ActionDeploy, true},
		{p("approver:prod"), "staging", ActionRead, false},
		{p("approver:prod"), "", ActionAdmin, false},
		{p("admin:prod"), "", ActionAdmin, false},
		{p("admin:*"), "", ActionAdmin, true},
		{p("admin:*"), "anything", ActionApprove, true},
		{p("viewer:*", "approver:prod"), "prod", ActionApprove, true},
		{p("admin:*"), "prod", Action("made-up"), true},
		{p("approver:*"), "prod", Action("made-up"), false},
	}
	for _, c := range cases {
		if got := Allowed(c.p, c.env, c.action); got != c.want {
			t.Errorf("Allowed(%v, %q, %s) = %v, want %v", GrantStrings(c.p.Grants), c.env, c.action, got, c.want)
		}
		err := Authorize(c.p, c.env, c.action)
		if (err == nil) != c.want || (err != nil && !errors.Is(err, ErrForbidden)) {
			t.Errorf("Authorize(%v, %q, %s) = %v", GrantStrings(c.p.Grants), c.env, c.action, err)
		}
	}
}

func TestParseGrant(t *testing.T) {
	good := map[string]string{
		"admin":         "admin:*",
		"Approver:prod": "approver:prod",
		" viewer:* ":    "viewer:*",
		"deployer:eu-1": "deployer:eu-1",
		"promoter:":     "promoter:*",
	}
	for in, want := range good {
		g, err := ParseGrant(in)
		if err != nil || g.String() != want {
			t.Errorf("ParseGrant(%q) = %v, %v; want %s", in, g, err, want)
		}
	}
	for _, in := range []string{"", "root", "admin:pr od", "viewer:a/b", "none"} {
		if g, err := ParseGrant(in); err == nil {
			t.Errorf("ParseGrant(%q) = %v, want an error", in, g)
		}
	}
	if Viewer >= Deployer || Deployer >= Promoter || Promoter >= Approver || Approver >= Admin {
		t.Error("roles are not ordered viewer < deployer < promoter < approver < admin")
	}
}

func TestNormalizeName(t *testing.T) {
	same := [][2]string{
		{"Ana@Example.COM", "ana@example.com"},
		{" ana ", "ana"},
		{"Jose\u0301", "jos\u00e9"}, // decomposed vs composed
		{"STRASSE", "strasse"},
	}
	for _, c := range same {
		if NormalizeName(c[0]) != NormalizeName(c[1]) {
			t.Errorf("NormalizeName(%q) = %q, NormalizeName(%q) = %q; want equal", c[0], NormalizeName(c[0]), c[1], NormalizeName(c[1]))
		}
	}
	for _, bad := range []string{"", "unknown", "Unknown", "a b", "a:b", "x,y"} {
		if CheckName(bad) == nil {
			t.Errorf("CheckName(%q) = nil, want an error", bad)
		}
	}
	if !Anonymous(NormalizeName(" UNKNOWN ")) {
		t.Error("UNKNOWN is anonymous")
	}
}
