package cli

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder"
)

func newDemoCmd(a *app) *cobra.Command {
	var (
		dir   string
		reset bool
		o     upOptions
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the embedded demo stack (a small trading app) end to end",
		Long: `demo writes the trading demo stack carried inside ladder (a web frontend,
users, trades and notifications APIs in Go, a PostgreSQL database and its
migration job) to a directory, then runs
` + "`ladder up`" + ` there: every service is built once, snapshotted, started,
health-checked and scraped, and the dashboard shows it all tied to the
snapshot ID. Edit a service in that directory and run ` + "`ladder up -C DIR`" + `
to see only that service rebuilt and replaced.

The database image is ladder.local/postgres:15 unless POSTGRES_IMAGE names
another (postgres:15@sha256:... where a registry is reachable). When the
Docker engine lacks it, demo first builds it from Debian's packages with
mmdebstrap (about a minute; mmdebstrap is installed with apt-get when
missing and ladder runs as root).

An existing demo directory is kept as it is (so your edits survive); use
--reset to write it afresh.`,
		Example: `  ladder demo
  ladder demo -d && ladder status -C ~/.cache/ladder/demo/examples/trading`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				cache, err := os.UserCacheDir()
				if err != nil {
					return err
				}
				dir = filepath.Join(cache, "ladder", "demo")
			}
			stackDir := filepath.Join(dir, filepath.FromSlash(ladder.DemoDir))
			_, err := os.Stat(filepath.Join(stackDir, "compose.yaml"))
			if reset || os.IsNotExist(err) {
				if err := writeDemo(dir); err != nil {
					return fmt.Errorf("writing the demo to %s: %w", dir, err)
				}
				if !a.json() {
					fmt.Fprintf(a.Out, "demo stack written to %s\n", stackDir)
				}
			} else if !a.json() {
				// A second run keeps the first one's edits (the inner
				// loop's change, a fault switched on): say so, and how to
				// start clean.
				fmt.Fprintf(a.Out, "reusing the demo stack in %s, edits included (ladder demo --reset writes it afresh)\n", stackDir)
			}
			out := a.Out
			if a.json() {
				out = cmd.ErrOrStderr()
			}
			if err := ensureDemoImage(cmd.Context(), out, cmd.ErrOrStderr()); err != nil {
				return err
			}
			a.dir = stackDir
			return a.runUp(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "to", "", "where to write the demo (default: the user cache directory, ladder/demo)")
	f.BoolVar(&reset, "reset", false, "write the demo afresh, discarding edits")
	f.BoolVarP(&o.detach, "detach", "d", false, "keep the stack running in the background")
	f.StringVar(&o.dashboard, "dashboard", "", "dashboard address (default 127.0.0.1:7700)")
	f.BoolVar(&a.dashboardAllowRemote, "dashboard-allow-remote", false, "allow a dashboard address other machines reach (changes need a token; reads from there too)")
	return cmd
}

// writeDemo copies the embedded demo into dir, keeping its module layout
// so the services build against the same go.mod as ladder itself.
func writeDemo(dir string) error {
	return fs.WalkDir(ladder.Demo, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := ladder.Demo.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
}
