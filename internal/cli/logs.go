package cli

import (
	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
)

func newLogsCmd(a *app) *cobra.Command {
	var (
		env, site string
		opts      target.LogOptions
	)
	cmd := &cobra.Command{
		Use:   "logs [SERVICE]",
		Short: "Show the output of the stack's services",
		Long: `logs prints what the services wrote to stdout and stderr, each line
prefixed with the service and the instance slot. With -f it keeps printing
new lines until Ctrl-C.`,
		Example: `  ladder logs
  ladder logs trades -f
  ladder logs web --tail 20`,
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			p, err := a.load(cmd.Context())
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return p.Stack.Compose.ServiceNames(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			e, err := ws.environment(env)
			if err != nil {
				return err
			}
			service := ""
			if len(args) == 1 {
				service = args[0]
				if _, ok := ws.project.Stack.Compose.Services[service]; !ok {
					return &ExitError{Code: ExitNotRunning, Err: errorf("no service %q in the stack", service), Hint: "ladder logs (all services)"}
				}
			}
			if site == "" {
				site = e.Sites[0].Name
			}
			if _, ok := e.Site(site); !ok {
				return exitf(ExitConfig, "no site %q in %s", site, e.Name)
			}
			tgt, err := a.siteTarget(ctx, ws, e.Name)
			if err != nil {
				return err
			}
			if !tgt.Can(site, target.CapLogs) {
				return exitf(ExitConfig, "%s/%s runs on the %s target, which keeps no logs ladder can show", e.Name, site, tgt.Locate(render.SiteRef{Env: e.Name, Site: site}).Kind)
			}
			// Hide the environment's secrets when this machine can read
			// them; a service printing one must not leak it here.
			if values, err := ws.secrets().Values(e.Name); err == nil {
				for _, v := range values {
					ws.redactor.Add(v)
				}
			}
			out := ws.redactor.WriteCloser(a.Out)
			defer out.Close()
			err = tgt.Logs(ctx, render.SiteRef{Env: e.Name, Site: site}, service, opts, out)
			if err != nil && ctx.Err() == nil {
				return &ExitError{Code: ExitNotRunning, Err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&env, "env", "e", "", "environment (default: the first rung)")
	f.StringVar(&site, "site", "", "site (default: the environment's first)")
	f.BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new lines")
	f.IntVar(&opts.Tail, "tail", 0, "only the last N lines of each service (0: all)")
	return cmd
}
