package cli

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/secrets"
)

func (w *workspace) secrets() *secrets.Store {
	return secrets.Open(w.project.Dir, secrets.KeysDir(w.stateDir))
}

func newSecretCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Manage an environment's secrets (encrypted at rest, one key per environment)",
		Long: `Secrets are encrypted with age to the environment's key: secrets/ENV.age
holds the values (safe to commit), secrets/ENV.pub the environment's public
key, and the private key stays out of the repository (.ladder/keys/ENV.key,
$LADDER_KEYS_DIR, or the LADDER_KEY_<ENV> variable in CI). A service gets a
secret through values.services.SERVICE.secrets in ladder.yaml; ladder
injects it at deploy and never prints it.`,
	}
	set := &cobra.Command{
		Use:   "set ENV NAME",
		Short: "Set a secret, reading its value from standard input",
		Example: `  printf %s "$DB_PASSWORD" | ladder secret set prod DB_PASSWORD
  ladder secret set dev API_TOKEN < token.txt`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer ws.Close()
			if _, err := ws.environment(args[0]); err != nil {
				return err
			}
			value, err := readSecret(a.In)
			if err != nil {
				return err
			}
			st := ws.secrets()
			if _, err := st.InitEnv(args[0]); err != nil {
				return err
			}
			if err := st.Set(args[0], args[1], value); err != nil {
				return err
			}
			fmt.Fprintf(a.Out, "secret %s set for %s (%d bytes)\n", args[1], args[0], len(value))
			return nil
		},
	}
	list := &cobra.Command{
		Use:     "list ENV",
		Short:   "List an environment's secret names (never their values)",
		Example: "  ladder secret list prod",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer ws.Close()
			names, err := ws.secrets().Names(args[0])
			if err != nil {
				return err
			}
			if a.json() {
				if names == nil {
					names = []string{}
				}
				return a.printJSON(names)
			}
			for _, n := range names {
				fmt.Fprintln(a.Out, n)
			}
			return nil
		},
	}
	rm := &cobra.Command{
		Use:   "rm ENV NAME",
		Short: "Remove a secret",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer ws.Close()
			return ws.secrets().Remove(args[0], args[1])
		},
	}
	cmd.AddCommand(set, list, rm)
	return cmd
}

// readSecret reads a value from r, without a trailing newline.
func readSecret(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(bufio.NewReader(io.LimitReader(r, 1<<20)))
	if err != nil {
		return nil, err
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return nil, exitf(ExitConfig, "no value on standard input")
	}
	return []byte(v), nil
}
