package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/parity"
	"github.com/ladderhq/ladder/internal/spec"
)

func newLintCmd(a *app) *cobra.Command {
	var rules strings.Builder
	for _, r := range parity.Rules {
		fmt.Fprintf(&rules, "  %-19s %s\n", r.ID, r.Summary)
	}
	return &cobra.Command{
		Use:   "lint",
		Short: "Check the parity contract: every rung runs the same definition",
		Long: `lint loads compose.yaml and ladder.yaml as validate does, then checks that
the environments differ only in what may differ between rungs (scale,
dependency tier, endpoints, feature flags, secrets, rollout), never in the
image, the command or the code path. Every violation is reported at once,
as file:line:col: field.path: message (rule ID), sorted by position. It
exits 2 when there is any violation (or any validation problem), 0
otherwise.

Secrets count as set for an environment when they are listed, one name a
line, in secrets/ENV.names in the project directory (` + "`ladder secret set`" + `
keeps that file); no file means no secret is set.

Rules:
` + rules.String(),
		Example: `  ladder lint
  ladder lint -o json | jq -r '.violations[] | .rule'
  ladder lint -C examples/trading`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.load(cmd.Context())
			if err != nil {
				return err
			}
			names, err := lintSecretNames(p)
			if err != nil {
				return err
			}
			vs := parity.Lint(p, func(env string) []string { return names[env] })
			if a.json() {
				if vs == nil {
					vs = []parity.Violation{}
				}
				if err := a.printJSON(map[string]any{"ok": len(vs) == 0, "violations": vs}); err != nil {
					return err
				}
			} else {
				for _, v := range vs {
					fmt.Fprintln(a.Out, v)
				}
				if len(vs) == 0 {
					fmt.Fprintf(a.Out, "ok: %d environments keep the parity contract (%d services)\n", len(p.Ladder.Environments), len(p.Stack.Compose.Services))
				} else {
					fmt.Fprintf(a.Out, "%d parity violation(s)\n", len(vs))
				}
			}
			if len(vs) > 0 {
				return &ExitError{Code: ExitConfig, Err: fmt.Errorf("%d parity violation(s)", len(vs)), Reported: true}
			}
			return nil
		},
	}
}

// lintSecretsDir is the directory, in the project directory, holding
// ENV.names: the names of the secrets set for each environment, one a line.
const lintSecretsDir = "secrets"

// lintSecretNames reads secrets/ENV.names for every environment of p; a
// missing file means no secret is set. Blank lines and # comments are
// skipped.
func lintSecretNames(p *spec.Project) (map[string][]string, error) {
	out := map[string][]string{}
	for _, e := range p.Ladder.Environments {
		path := filepath.Join(p.Dir, lintSecretsDir, e.Name+".names")
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
				out[e.Name] = append(out[e.Name], line)
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
	}
	return out, nil
}
