package cli

import (
	"bytes"
	"errors"
	"testing"

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
