package postgres

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/store"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want, secret string }{
		{"postgres://ladder:s3cret@db:5432/ladder?sslmode=require",
			"postgres://ladder:xxxxx@db:5432/ladder?sslmode=require", "s3cret"},
		{"postgres://ladder:p%40ss%2Fw@db/ladder", "postgres://ladder:xxxxx@db/ladder", "p@ss/w"},
		{"postgresql://ladder@db/ladder?password=s3cret&sslmode=disable",
			"postgresql://ladder@db/ladder?password=xxxxx&sslmode=disable", "s3cret"},
		{"postgres://ladder@db/ladder", "postgres://ladder@db/ladder", ""},
		{"host=db user=ladder password=s3cret dbname=ladder", "host=db user=ladder password=xxxxx dbname=ladder", "s3cret"},
		{`host=db password = 'it\'s a secret' dbname=x`, `host=db password = xxxxx dbname=x`, "it's a secret"},
		{`host=db password='it''s a secret' dbname=x`, malformedDSN, ""},
		{`host=db password='unterminated secret`, malformedDSN, ""},
		{"password=s3cret", "password=xxxxx", "s3cret"},
		{"postgres://ladder:s3cret@[::1/ladder", malformedDSN, ""},
	} {
		red, secret, _ := redact(tc.in)
		if strings.Contains(red, "s3cret") || strings.Contains(red, "secret") || strings.Contains(red, "p@ss") {
			t.Errorf("redact(%q) = %q: shows the password", tc.in, red)
		}
		if tc.want != "" && red != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.in, red, tc.want)
		}
		if tc.want != "" && secret != tc.secret {
			t.Errorf("redact(%q) secret = %q, want %q", tc.in, secret, tc.secret)
		}
	}
}

func TestScrubKeepsErrorsIs(t *testing.T) {
	err := scrub(fmt.Errorf("server said password=s3cret is wrong: %w", store.ErrLocked), "s3cret")
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("scrub left the password: %v", err)
	}
	if !errors.Is(err, store.ErrLocked) {
		t.Errorf("scrub lost the wrapped error: %v", err)
	}
}
