package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/sbom"
	"github.com/ladderhq/ladder/internal/sign"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/transfer"
)

// transferAnswer is what push and pull print with -o json.
type transferAnswer struct {
	Snapshot  string `json:"snapshot"`
	Reference string `json:"reference"`
	Signed    bool   `json:"signed"`
	SBOMs     int    `json:"sboms"`
}

func newPushCmd(a *app) *cobra.Command {
	var to string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "push SNAPSHOT --to REGISTRY",
		Short: "Send a snapshot, its artifacts, signature and SBOMs to an OCI registry",
		Long: `push sends everything another machine needs to deploy SNAPSHOT to an OCI
registry: every artifact by digest, the snapshot and the stack definition
it was made from (tagged REGISTRY/STACK:ID), and its signature and SBOMs
attached as OCI referrers, as cosign and ORAS attach them. Another ladder
(a team's server, another CI job) then runs ` + "`ladder pull`" + ` and promotes
the very same digests without the working tree: build once, promote the
digest. Credentials come from your Docker config (docker login).`,
		Example: `  ladder push latest --to registry.example.com/team
  ladder push 3f2a9c1b --to 127.0.0.1:5000 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if to == "" {
				return exitf(ExitConfig, "--to REGISTRY is required (host[:port][/path])")
			}
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			// Sending artifacts out of the store is a deployer's act.
			if _, err := a.actAs(ctx, ws, "", auth.ActionDeploy); err != nil {
				return err
			}
			ref, err := resolveSnapshot(ctx, ws, args[0])
			if err != nil {
				return err
			}
			snap, err := ws.store.GetSnapshot(ctx, ref)
			if err != nil {
				return notFound(err)
			}
			b := transfer.Bundle{Snapshot: snap, SBOMs: map[string][]byte{}}
			if b.Stack, err = deploy.ArchivedStack(ws.stateDir, snap.StackHash); err != nil {
				return err
			}
			if sig, err := sign.LoadSignature(ws.signatureDir(), snap.ID); err == nil {
				if b.Signature, err = json.Marshal(sig); err != nil {
					return err
				}
			} else if !errors.Is(err, sign.ErrUnsigned) {
				return err
			}
			for _, art := range snap.Artifacts {
				path, err := sbom.Path(ws.sbomDir(), art.Digest)
				if err != nil {
					continue
				}
				data, err := os.ReadFile(path)
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					return err
				}
				b.SBOMs[art.Digest] = data
			}
			out := a.progressPrinter()
			pushed, err := transfer.Push(ctx, a.transferOptions(ws, to, insecure, out), b)
			if err != nil {
				return a.registryExit(err)
			}
			a.auditTransfer(ctx, ws, "push", snap.ID, pushed)
			ans := transferAnswer{Snapshot: snap.ID, Reference: pushed, Signed: b.Signature != nil, SBOMs: len(b.SBOMs)}
			if a.json() {
				return a.printJSON(ans)
			}
			fmt.Fprintf(a.Out, "pushed snapshot %s to %s (%d artifacts, %s, %d SBOMs)\n",
				snapshot.Short(snap.ID), pushed, len(snap.Artifacts), signedWord(ans.Signed), ans.SBOMs)
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "registry to push to: host[:port][/path]")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "talk plain HTTP to a registry that is not on loopback or a private address")
	return cmd
}

func newPullCmd(a *app) *cobra.Command {
	var from, stack string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "pull SNAPSHOT-ID --from REGISTRY",
		Short: "Bring a snapshot pushed elsewhere into this ladder, ready to promote",
		Long: `pull brings a snapshot that ` + "`ladder push`" + ` sent to a registry into
this ladder's store: its artifacts (each checked against its digest), the
stack definition it was made from, its signature and its SBOMs. The
snapshot's ID is recomputed from what arrives, so nothing altered on the
way is accepted. The signature is verified, like any other, against the
keys this ladder trusts when the snapshot is promoted to a rung that asks
for one. SNAPSHOT-ID is the full ID (a registry cannot resolve prefixes).`,
		Example: `  ladder pull 3f2a9c1b…(64 hex digits) --from registry.example.com/team
  ladder pull $(ladder push latest --to 127.0.0.1:5000 -o json | jq -r .snapshot) --from 127.0.0.1:5000`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if from == "" {
				return exitf(ExitConfig, "--from REGISTRY is required (host[:port][/path])")
			}
			ws, err := a.openToChange(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			// A pulled snapshot can be deployed: bringing one in is a
			// deployer's act.
			if _, err := a.actAs(ctx, ws, "", auth.ActionDeploy); err != nil {
				return err
			}
			if stack == "" {
				stack = ws.project.Stack.Name
			}
			out := a.progressPrinter()
			b, err := transfer.Pull(ctx, a.transferOptions(ws, from, insecure, out), stack, args[0])
			if err != nil {
				return a.registryExit(err)
			}
			snap := b.Snapshot
			if err := deploy.ImportStack(ws.stateDir, snap.StackHash, b.Stack); err != nil {
				return err
			}
			// The stack definition must be the snapshot's: rendering it
			// with this ladder file checks its hash.
			if _, err := deploy.ProjectFor(ctx, ws.project, ws.stateDir, a.loadOptions(), snap); err != nil {
				_ = deploy.DropStack(ws.stateDir, snap.StackHash)
				return &ExitError{Code: ExitConfig, Err: fmt.Errorf("snapshot %s cannot be used here: %w", snapshot.Short(snap.ID), err)}
			}
			for digest, data := range b.SBOMs {
				bom, err := sbom.Decode(bytes.NewReader(data))
				if err != nil {
					return fmt.Errorf("the SBOM of %s from the registry: %w", snapshot.Short(digest), err)
				}
				if err := sbom.Write(ws.sbomDir(), digest, bom); err != nil {
					return err
				}
			}
			if b.Signature != nil {
				sig := &sign.Signature{}
				if err := json.Unmarshal(b.Signature, sig); err != nil {
					return fmt.Errorf("the signature from the registry: %w", err)
				}
				if sig.Snapshot != snap.ID {
					return fmt.Errorf("the registry's signature is for snapshot %s, not %s", snapshot.Short(sig.Snapshot), snapshot.Short(snap.ID))
				}
				if err := sign.SaveSignature(ws.signatureDir(), sig); err != nil {
					return err
				}
			}
			if _, err := ws.store.PutSnapshot(ctx, snap); err != nil {
				return err
			}
			a.auditTransfer(ctx, ws, "pull", snap.ID, from)
			ans := transferAnswer{Snapshot: snap.ID, Reference: transfer.Ref(from, stack, snap.ID), Signed: b.Signature != nil, SBOMs: len(b.SBOMs)}
			if a.json() {
				return a.printJSON(ans)
			}
			fmt.Fprintf(a.Out, "pulled snapshot %s from %s (%d artifacts, %s, %d SBOMs): ladder promote %s --to ENV\n",
				snapshot.Short(snap.ID), from, len(snap.Artifacts), signedWord(ans.Signed), ans.SBOMs, snapshot.Short(snap.ID))
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "registry to pull from: host[:port][/path]")
	cmd.Flags().StringVar(&stack, "stack", "", "stack name the snapshot is filed under (default: this project's)")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "talk plain HTTP to a registry that is not on loopback or a private address")
	return cmd
}

func (a *app) transferOptions(ws *workspace, address string, insecure bool, say func(string)) transfer.Options {
	return transfer.Options{Builder: ws.builder, Registry: build.Registry{Address: address, Insecure: insecure}, Progress: say}
}

// progressPrinter reports steps on stderr in text mode, never with -o json.
func (a *app) progressPrinter() func(string) {
	if a.json() {
		return nil
	}
	return func(s string) { fmt.Fprintln(a.Err, "  "+s) }
}

// registryExit maps a registry's refusal to an exit code: credentials and
// missing snapshots are the user's to fix (2 and 4).
func (a *app) registryExit(err error) error {
	var ie *build.ImageError
	switch {
	case errors.As(err, &ie) && ie.Reason == build.ReasonUnauthorized:
		return &ExitError{Code: ExitConfig, Err: err, Hint: ie.Hint}
	case errors.As(err, &ie) && ie.Reason == build.ReasonNotFound:
		return &ExitError{Code: ExitNotRunning, Err: err}
	}
	return err
}

func (a *app) auditTransfer(ctx context.Context, ws *workspace, action, id, where string) {
	who := "unknown"
	if p, err := a.principal(ctx, ws); err == nil {
		who = p.Name
	}
	if _, err := ws.store.Audit(ctx, store.AuditEntry{Actor: who, Action: action, Snapshot: id, Outcome: "succeeded", Detail: where}); err != nil {
		a.logger().Warn("audit", "action", action, "err", err)
	}
}

func signedWord(signed bool) string {
	if signed {
		return "signed"
	}
	return "unsigned"
}

func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return &ExitError{Code: ExitNotRunning, Err: err, Hint: "ladder snapshots"}
	}
	return err
}
