package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/secrets"
	"github.com/ladderhq/ladder/internal/spec"
)

func newValidateCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check compose.yaml and ladder.yaml and report every problem",
		Long: `validate loads the stack and the ladder file exactly as every other
command does and reports every problem at once, each as file:line:col, the
field path and what is wrong. It exits 2 when there is any problem:
every Compose field ladder cannot honour is refused here, so nothing
written is dropped and no refusal first shows up at deploy time.

Fields a target does not apply (cap_add on the process target, say) are
warnings for that target, on stderr; so are compose-go's own warnings. The
targets checked are --target, else those the environments run on.`,
		Example: `  ladder validate
  ladder validate --target process     # what the process target would not apply
  ladder validate --profile debug      # with the services of a Compose profile
  ladder validate -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.load(cmd.Context())
			var diags spec.Diagnostics
			if errors.As(err, &diags) && a.json() {
				if err := a.printJSON(map[string]any{"valid": false, "problems": diags}); err != nil {
					return err
				}
				return &ExitError{Code: ExitConfig, Err: err, Reported: true}
			}
			if err != nil {
				return err
			}
			if ds := renderProblems(p); len(ds) > 0 {
				if a.json() {
					if err := a.printJSON(map[string]any{"valid": false, "problems": ds}); err != nil {
						return err
					}
					return &ExitError{Code: ExitConfig, Err: ds, Reported: true}
				}
				return ds
			}
			kinds := a.validateKinds(cmd.Context(), p)
			envs := processTargetEnvs(p)
			if len(envs) == 0 && slices.Contains(kinds, "process") {
				envs = []string{"the stack"}
			}
			if len(envs) > 0 {
				if err := refuseContainersWithoutEngine(cmd.Context(), p, strings.Join(envs, ", ")); err != nil {
					var ds spec.Diagnostics
					if errors.As(err, &ds) && a.json() {
						if err := a.printJSON(map[string]any{"valid": false, "problems": ds}); err != nil {
							return err
						}
						return &ExitError{Code: ExitConfig, Err: ds, Reported: true}
					}
					return err
				}
			}
			if a.json() {
				warnings := map[string][]spec.Diagnostic{}
				for _, k := range kinds {
					warnings[k] = append([]spec.Diagnostic{}, warningsFor(p, k)...)
				}
				return a.printJSON(map[string]any{"valid": true, "problems": []spec.Diagnostic{}, "warnings": warnings,
					"inactive": p.Stack.Inactive, "services": p.Stack.Compose.ServiceNames(), "environments": envNames(p)})
			}
			shown := map[string]bool{}
			for _, k := range kinds {
				for _, d := range warningsFor(p, k) {
					if line := d.String(); !shown[line] {
						shown[line] = true
						fmt.Fprintln(a.Err, line)
					}
				}
			}
			fmt.Fprintf(a.Out, "ok: stack %s with %s; environments %v\n", p.Stack.Name, plural(len(p.Stack.Compose.Services), "service"), envNames(p))
			if note := p.Stack.InactiveNote(); note != "" {
				fmt.Fprintln(a.Out, note)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&a.target, "target", "", "check for this target: process or compose (default: the environments' targets)")
	return cmd
}

func envNames(p *spec.Project) []string {
	var names []string
	for _, e := range p.Ladder.Environments {
		names = append(names, e.Name)
	}
	return names
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// renderProblems are what a deploy's render would refuse, at the service
// each concerns: validate reports them so they never first show at
// deploy time.
func renderProblems(p *spec.Project) spec.Diagnostics {
	var ds spec.Diagnostics
	for svc, msg := range build.TargetProblems(p.Stack) {
		pos := p.StackPos("services", svc, "build", "target")
		ds = append(ds, spec.Diagnostic{File: pos.File, Line: pos.Line, Col: pos.Col, Path: pos.Path, Message: msg})
	}
	for svc, pr := range build.GoBuildProblems(p.Stack) {
		pos := p.StackPos("services", svc, "build", pr[0])
		ds = append(ds, spec.Diagnostic{File: pos.File, Line: pos.Line, Col: pos.Col, Path: pos.Path, Message: pr[1]})
	}
	ds = append(ds, secretSourceProblems(p)...)
	for svc, errs := range render.Check(p) {
		pos := p.StackPos("services", svc)
		for _, err := range errs {
			msg := strings.TrimPrefix(err.Error(), fmt.Sprintf("service %q: ", svc))
			ds = append(ds, spec.Diagnostic{File: pos.File, Line: pos.Line, Col: pos.Col, Path: pos.Path, Message: msg})
		}
	}
	ds.Sort()
	return ds
}

// secretSourceProblems are the secrets and configs whose content the
// first rung (what `ladder up` deploys) would not find: an environment:
// source that is neither a ladder secret of the rung nor a variable of
// the project's environment (the shell's, or .env), and an
// x-ladder-secret the rung does not have. Each is reported at the
// top-level secret or config.
func secretSourceProblems(p *spec.Project) spec.Diagnostics {
	if p.Stack == nil || p.Stack.Compose == nil || len(p.Ladder.Environments) == 0 {
		return nil
	}
	proj := p.Stack.Compose
	env := p.Ladder.Environments[0].Name
	names, err := secrets.Open(p.Dir, "").Names(env)
	if err != nil {
		return nil // the deploy reports a broken store with what to do
	}
	used := map[string]map[string]bool{"secrets": {}, "configs": {}}
	for _, svc := range proj.Services {
		for _, r := range svc.Secrets {
			used["secrets"][r.Source] = true
		}
		for _, r := range svc.Configs {
			used["configs"][r.Source] = true
		}
	}
	var ds spec.Diagnostics
	check := func(kind, name string, def types.FileObjectConfig) {
		if !used[kind][name] || def.Environment == "" {
			return
		}
		pos := p.StackPos(kind, name, "environment")
		d := spec.Diagnostic{File: pos.File, Line: pos.Line, Col: pos.Col, Path: pos.Path}
		if ladderName, _ := def.Extensions[render.XLadderSecret].(string); ladderName != "" {
			if !slices.Contains(names, ladderName) {
				d.Message = fmt.Sprintf("the ladder secret %s of %s is not set (ladder secret set %s %s)", ladderName, env, env, ladderName)
				ds = append(ds, d)
			}
			return
		}
		if _, ok := proj.Environment[def.Environment]; ok || slices.Contains(names, def.Environment) {
			return
		}
		d.Message = fmt.Sprintf("%s is neither set (in the environment or .env) nor a ladder secret of %s (ladder secret set %s %s)",
			def.Environment, env, env, def.Environment)
		ds = append(ds, d)
	}
	for name, def := range proj.Secrets {
		check("secrets", name, types.FileObjectConfig(def))
	}
	for name, def := range proj.Configs {
		check("configs", name, types.FileObjectConfig(def))
	}
	return ds
}
