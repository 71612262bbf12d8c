package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/atomicfile"
	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/sbom"
	"github.com/ladderhq/ladder/internal/sign"
	"github.com/ladderhq/ladder/internal/snapshot"
)

func newKeysCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the key snapshots are signed with",
	}
	var noPassword bool
	gen := &cobra.Command{
		Use:   "generate",
		Short: "Generate a cosign-compatible signing key pair",
		Long: `generate writes an ECDSA P-256 key pair in cosign's format: the public key
to ladder.pub in the project (commit it: everyone verifies with it) and the
private key, encrypted with LADDER_SIGNING_PASSWORD, to .ladder/keys/signing.key
(or LADDER_SIGNING_KEY). From then on ` + "`ladder up`" + ` signs every new
snapshot, and protected environments refuse unsigned or altered ones.

The password must not be empty: anyone who copies the key file could sign
with it. --no-password makes a key with an empty password, for tests.`,
		Example: "  LADDER_SIGNING_PASSWORD=... ladder keys generate\n  ladder keys generate --no-password   # a throwaway key for tests",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			password := signingPassword()
			switch {
			case noPassword && len(password) > 0:
				return exitf(ExitConfig, "--no-password given, but LADDER_SIGNING_PASSWORD is set: choose one")
			case !noPassword && len(password) == 0:
				what := "is empty"
				if _, set := os.LookupEnv(signingPasswordEnv); !set {
					what = "is not set"
				}
				return &ExitError{Code: ExitConfig,
					Err:  fmt.Errorf("%s %s: the private key would be protected by an empty password", signingPasswordEnv, what),
					Hint: signingPasswordEnv + "=... ladder keys generate (or --no-password, for a test key)"}
			}
			ws, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer ws.Close()
			for _, p := range []string{ws.publicKeyPath(), ws.privateKeyPath()} {
				if _, err := os.Stat(p); err == nil {
					return exitf(ExitConfig, "%s exists: ladder does not overwrite signing keys", p)
				}
			}
			priv, pub, err := sign.GenerateKeyPair(password)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(ws.privateKeyPath()), 0o700); err != nil {
				return err
			}
			// Each key is created, never replaced: of two generates at
			// once, one makes the pair and the other is refused. A pair
			// is made whole or not at all.
			exists := func(p string, err error) error {
				if errors.Is(err, fs.ErrExist) {
					return exitf(ExitConfig, "%s exists: ladder does not overwrite signing keys", p)
				}
				return err
			}
			if err := atomicfile.Create(ws.privateKeyPath(), priv, 0o600); err != nil {
				return exists(ws.privateKeyPath(), err)
			}
			if err := atomicfile.Create(ws.publicKeyPath(), pub, 0o644); err != nil {
				os.Remove(ws.privateKeyPath())
				return exists(ws.publicKeyPath(), err)
			}
			fmt.Fprintf(a.Out, "public key  %s (commit it)\nprivate key %s (keep it secret)\n", ws.publicKeyPath(), ws.privateKeyPath())
			if keys, err := ws.store.TrustedKeys(cmd.Context()); err == nil && len(keys) > 0 {
				fmt.Fprintf(a.Err, "this ladder already trusts other keys: signed rungs refuse snapshots signed with the new one until `ladder trust add %s`\n", publicKeyFile)
			}
			return nil
		},
	}
	gen.Flags().BoolVar(&noPassword, "no-password", false, "encrypt the private key with an empty password (test keys only)")
	cmd.AddCommand(gen)
	return cmd
}

func newSignCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "sign SNAPSHOT",
		Short:   "Sign a snapshot with the project's signing key",
		Example: "  ladder sign 3f2a9c1b",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			s, err := findSnapshot(ctx, ws, args[0])
			if err != nil {
				return err
			}
			if _, err := os.Stat(ws.privateKeyPath()); errors.Is(err, fs.ErrNotExist) {
				return &ExitError{Code: ExitConfig, Err: fmt.Errorf("no signing key at %s", ws.privateKeyPath()), Hint: "ladder keys generate"}
			}
			return a.sealSnapshot(ctx, ws, &deploy.Made{Snapshot: s}, &printer{w: a.Out})
		},
	}
}

func newVerifyCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "verify SNAPSHOT",
		Short: "Verify a snapshot's signature and its artifacts' bytes",
		Long: `verify checks that the snapshot record matches its ID, that its signature
verifies with a key the store trusts (ladder trust list; the project's
ladder.pub is trusted on first use when the store trusts none), that every artifact in the artifact store
still has exactly the bytes its digest names, and that every artifact
unpacked for the process target still holds exactly its image's files
(each file's SHA-256, mode and size; nothing added or missing). Exit 3
when anything fails.`,
		Example: "  ladder verify 3f2a9c1b",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			s, err := findSnapshot(ctx, ws, args[0])
			if err != nil {
				return err
			}
			if err := a.verifier(ws)(s); err != nil {
				return &ExitError{Code: ExitUnhealthy, Err: err}
			}
			fmt.Fprintf(a.Out, "snapshot %s verifies: signature, record and %d artifacts\n", snapshot.Short(s.ID), len(s.Artifacts))
			return nil
		},
	}
}

func newSBOMCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "sbom SNAPSHOT SERVICE",
		Short:   "Print a service artifact's SBOM (CycloneDX JSON)",
		Example: "  ladder sbom 3f2a9c1b trades > trades.cdx.json",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			s, err := findSnapshot(ctx, ws, args[0])
			if err != nil {
				return err
			}
			art, ok := s.Artifacts[args[1]]
			if !ok {
				return &ExitError{Code: ExitNotRunning, Err: fmt.Errorf("snapshot %s has no service %q", snapshot.Short(s.ID), args[1])}
			}
			bom, err := sbom.Read(ws.sbomDir(), art.Digest)
			if err != nil {
				return &ExitError{Code: ExitNotRunning, Err: fmt.Errorf("no SBOM for %s (%s): %w", args[1], snapshot.Short(art.Digest), err)}
			}
			return sbom.Encode(bom, a.Out)
		},
	}
}
