package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

func newCheckCmd(a *app) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "check URL...",
		Short: "GET each URL and exit 0 only if every one answers 2xx (for gate tests)",
		Long: `check is a portable smoke test for promotion gates: it needs nothing but
ladder itself. Gate test commands get LADDER_BIN (this binary) and one
SERVICE_URL variable per published service of the rung they test.`,
		Example: `  # in ladder.yaml gates.tests:
  command: ["/bin/sh", "-c", "\"$LADDER_BIN\" check \"$WEB_URL/\" \"$TRADES_URL/api/quotes\""]`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := &http.Client{Timeout: timeout}
			for _, url := range args {
				ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					cancel()
					return exitf(ExitConfig, "%s: %v", url, err)
				}
				resp, err := c.Do(req)
				if err != nil {
					cancel()
					return exitf(ExitUnhealthy, "%s: %v", url, err)
				}
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
				cancel()
				if resp.StatusCode/100 != 2 {
					return exitf(ExitUnhealthy, "%s: HTTP %d", url, resp.StatusCode)
				}
				fmt.Fprintf(a.Out, "%s: HTTP %d\n", url, resp.StatusCode)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "per request")
	return cmd
}
