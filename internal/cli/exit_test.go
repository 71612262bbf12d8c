package cli

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/ladderhq/ladder/internal/agent"
	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/promote"
	"github.com/ladderhq/ladder/internal/spec"
)

// Whatever an error carries from files, flags or the file system, what
// ladder prints holds no raw control or format character.
func TestReportEscapesHostileCharacters(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"error", &ExitError{Code: ExitConfig, Err: errors.New("no signing key at /keys/evil\u202eyek.pem"), Hint: "ladder keys\x1b[2J generate"},
			"ladder: no signing key at /keys/evil\\u202eyek.pem\nTry: ladder keys\\x1b[2J generate\n"},
		{"diagnostics", spec.Diagnostics{{File: "compose.yaml", Line: 3, Col: 5, Path: "services.web", Message: "bad\nvalue \u202e here"}},
			"ladder: 1 problem(s) in the configuration:\n  compose.yaml:3:5: services.web: bad\\nvalue \\u202e here\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			Report(&b, tt.err)
			if b.String() != tt.want {
				t.Errorf("Report printed\n%q\nwant\n%q", b.String(), tt.want)
			}
		})
	}
}

// A rung's refusal is exit 9, whether it happened in this process or in
// the rung's agent (an HTTP 409 with code not_admitted).
func TestRefusalIsExit8(t *testing.T) {
	for name, err := range map[string]error{
		"here":       fmt.Errorf("deploying: %w", &promote.AdmissionError{Env: "prod", Reason: "gated"}),
		"agent":      &agent.APIError{Status: 409, Body: api.Error{Error: "prod refuses", Code: api.CodeNotAdmitted}},
		"deployFail": (&app{}).deployFailed(nil, &agent.APIError{Status: 409, Body: api.Error{Error: "prod refuses", Code: api.CodeNotAdmitted}}),
	} {
		if got := Code(err); got != ExitRefused {
			t.Errorf("%s: exit %d, want %d", name, got, ExitRefused)
		}
	}
	if got := Code(&agent.APIError{Status: 409, Body: api.Error{Error: "ambiguous"}}); got == ExitRefused {
		t.Errorf("another 409 is exit %d", got)
	}
}
