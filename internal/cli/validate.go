package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/spec"
)

func newValidateCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check compose.yaml and ladder.yaml and report every problem",
		Long: `validate loads the stack and the ladder file exactly as every other
command does and reports every problem at once, each as file:line:col, the
field path and what is wrong. It exits 2 when there is any problem.`,
		Example: `  ladder validate
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
			for _, env := range processTargetEnvs(p) {
				if err := refuseImagesOnProcess(p, env); err != nil {
					return err
				}
			}
			if a.json() {
				return a.printJSON(map[string]any{"valid": true, "problems": []spec.Diagnostic{}, "services": p.Stack.Compose.ServiceNames(), "environments": envNames(p)})
			}
			fmt.Fprintf(a.Out, "ok: stack %s with %d services; environments %v\n", p.Stack.Name, len(p.Stack.Compose.Services), envNames(p))
			return nil
		},
	}
}

func envNames(p *spec.Project) []string {
	var names []string
	for _, e := range p.Ladder.Environments {
		names = append(names, e.Name)
	}
	return names
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
