package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/lease"
	"github.com/ladderhq/ladder/internal/promote"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlite"
	"github.com/ladderhq/ladder/internal/target"
)

// Exit codes. Scripts can rely on them.
const (
	ExitOK           = 0
	ExitFailure      = 1   // anything not classified below
	ExitConfig       = 2   // bad command line or configuration files
	ExitUnhealthy    = 3   // a release failed, or the stack is not healthy
	ExitNotRunning   = 4   // nothing runs, or what was asked for does not exist
	ExitStore        = 6   // the state store is missing, replaced, emptied or damaged
	ExitBusy         = 7   // another ladder process holds the environment
	ExitUnauthorized = 8   // no valid credential, or its roles do not allow the change
	ExitRefused      = 9   // a rung's admission refused the snapshot (gates, trust, policy)
	ExitInterrupted  = 130 // stopped by Ctrl-C (SIGINT) or SIGTERM
)

const exitCodesHelp = `Exit codes:
  0    success
  1    unexpected error
  2    bad command line or configuration (every problem is listed)
  3    a release failed (the previous one keeps running) or the stack is unhealthy
  4    nothing is running, or the named snapshot/service does not exist
  5    drift: what runs differs from the last release (ladder drift)
  6    the state store (.ladder/ladder.db) is missing, replaced, emptied or
       damaged: ladder refuses to start a new, empty history in its place
  7    busy: another ladder process is changing the environment (promote,
       rollback, up or down); the message names it
  8    not authorised: no valid token (missing, unknown, revoked or
       expired), or its roles do not allow the change (ladder whoami)
  9    refused: a gated rung did not admit the snapshot (no grant from a
       promotion or rollback and not known-good there, a signature no
       trusted key verifies, or ladder.yaml weakens the pinned policy)
  130  interrupted (Ctrl-C); everything started was torn down`

// ExitError carries an exit code to main.
type ExitError struct {
	Code int
	Err  error
	// Hint, when set, is printed as "Try: ...".
	Hint string
	// Reported means the command already printed the error.
	Reported bool
	// deploy is the failed deploy's result, which -o json prints.
	deploy *api.DeployResult
}

// failedDeploy is the failed deploy's result err carries, if any.
func failedDeploy(err error) *api.DeployResult {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.deploy
	}
	return nil
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

func exitf(code int, format string, args ...any) *ExitError {
	return &ExitError{Code: code, Err: fmt.Errorf(format, args...)}
}

// Code maps an error from a command to its exit code.
func Code(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	var diags spec.Diagnostics
	var de *target.DeployError
	var pe *target.PortInUseError
	var be *build.ConfigError
	switch {
	case errors.As(err, &ee):
		return ee.Code
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.As(err, &diags), errors.As(err, new(*build.ImageError)), errors.As(err, &be):
		return ExitConfig
	case errors.As(err, &de), errors.As(err, &pe), errors.Is(err, target.ErrTimeout):
		return ExitUnhealthy
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrAmbiguous):
		return ExitNotRunning
	case errors.Is(err, store.ErrLost), errors.Is(err, store.ErrDamaged):
		return ExitStore
	case errors.As(err, new(*promote.LockedError)), errors.As(err, new(*lease.BusyError)):
		return ExitBusy
	case errors.Is(err, auth.ErrUnauthenticated), errors.Is(err, auth.ErrForbidden):
		return ExitUnauthorized
	case errors.Is(err, promote.ErrNotAdmitted):
		return ExitRefused
	}
	return ExitFailure
}

// Report prints err for a person: the error, then a hint when there is one.
func Report(w io.Writer, err error) {
	var ee *ExitError
	if errors.As(err, &ee) && ee.Reported {
		return
	}
	var diags spec.Diagnostics
	if errors.As(err, &diags) {
		fmt.Fprintf(w, "ladder: %d problem(s) in the configuration:\n", len(diags))
		for _, d := range diags {
			// One line per problem, whatever its message holds.
			fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(spec.Escape(d.String()), "\n", `\n`))
		}
		return
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(w, "ladder: interrupted")
		return
	}
	// Errors carry names and paths from files, flags and the file system:
	// control and format characters among them are escaped.
	fmt.Fprintf(w, "ladder: %s\n", spec.Escape(err.Error()))
	var lost *sqlite.LostError
	var ie *build.ImageError
	switch {
	case errors.As(err, &ee) && ee.Hint != "":
		fmt.Fprintf(w, "Try: %s\n", spec.Escape(ee.Hint))
	case errors.As(err, &ie) && ie.Hint != "":
		fmt.Fprintf(w, "Try: %s\n", spec.Escape(ie.Hint))
	case errors.As(err, &lost) && lost.Hint != "":
		fmt.Fprintf(w, "Try: %s\n", spec.Escape(lost.Hint))
	}
}
