package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/engine"
	"github.com/ladderhq/ladder/internal/sign"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

// maxPublicKey bounds what is read as a public key: a PEM ECDSA key is a
// few hundred bytes.
const maxPublicKey = 64 << 10

// readPublicKey reads a PEM public key file, refusing one larger than
// maxPublicKey rather than reading it whole.
func readPublicKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPublicKey+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPublicKey {
		return nil, fmt.Errorf("%s: larger than %d KiB, not a public key", path, maxPublicKey>>10)
	}
	return b, nil
}

// trustedKeys returns the signing keys the store holds, revoked ones
// included. A store that never held one trusts the project's ladder.pub
// on first use, and says so in the audit trail; from then on a new key is
// trusted only through `ladder trust add`, whatever ladder.pub holds.
func (a *app) trustedKeys(ctx context.Context, ws *workspace) ([]store.TrustedKey, error) {
	keys, err := ws.store.TrustedKeys(ctx)
	if err != nil || len(keys) > 0 {
		return keys, err
	}
	pem, err := readPublicKey(ws.publicKeyPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no trusted signing key: this ladder trusts none yet and there is no %s (ladder keys generate)", publicKeyFile)
	}
	if err != nil {
		return nil, err
	}
	k, err := a.trust(ctx, ws, pem, "first use of "+publicKeyFile, "trusted on first use")
	if err != nil {
		return nil, err
	}
	return []store.TrustedKey{k}, nil
}

// trust records pem as a trusted key, audited.
func (a *app) trust(ctx context.Context, ws *workspace, pem []byte, by, outcome string) (store.TrustedKey, error) {
	id, err := sign.KeyIDOfPEM(pem)
	if err != nil {
		return store.TrustedKey{}, &ExitError{Code: ExitConfig, Err: err}
	}
	k := store.TrustedKey{Fingerprint: id, PEM: string(pem), Added: time.Now().UTC(), AddedBy: by}
	created, err := ws.store.TrustKey(ctx, k)
	if errors.Is(err, store.ErrConflict) {
		return k, &ExitError{Code: ExitConfig, Err: fmt.Errorf("key %s was revoked: a revoked key is never trusted again", id[:12])}
	}
	if err != nil {
		return k, err
	}
	if created {
		_, _ = ws.store.Audit(context.WithoutCancel(ctx), store.AuditEntry{Actor: by, Action: "trust", Outcome: outcome, Detail: "key " + id})
	}
	return k, nil
}

// verifyTrusted verifies sig over s with the trusted key it names. The
// key ID a signature records is not itself signed: a signature naming no
// trusted key (or none at all, as one made elsewhere may) is tried with
// every trusted key, and one naming a revoked key is refused.
func verifyTrusted(s *snapshot.Snapshot, sig *sign.Signature, keys []store.TrustedKey) error {
	short := snapshot.Short(s.ID)
	try := func(k store.TrustedKey) error {
		v, err := sign.LoadPublicKey([]byte(k.PEM))
		if err != nil {
			return err
		}
		return sign.Verify(s, sig, v)
	}
	for _, k := range keys {
		if k.Fingerprint != sig.KeyID {
			continue
		}
		if !k.Revoked.IsZero() {
			return fmt.Errorf("snapshot %s is signed with key %s, revoked on %s by %s", short, short12(k.Fingerprint), k.Revoked.Format(time.RFC3339), orDashStr(k.RevokedBy))
		}
		return try(k)
	}
	for _, k := range keys {
		if k.Revoked.IsZero() && try(k) == nil {
			return nil
		}
	}
	return fmt.Errorf("snapshot %s is signed with key %s, which this ladder does not trust (ladder trust list; ladder trust add FILE.pub once it is meant)", short, orDashStr(short12(sig.KeyID)))
}

func short12(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func orDashStr(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newTrustCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trust",
		Short: "List, add and revoke the keys signed rungs trust",
		Long: `Signed rungs (protected, or gates.signed) accept a snapshot only when its
signature verifies with a key the store trusts: the working tree's
ladder.pub is not read for that, except once. A store that has never
trusted a key trusts the project's ladder.pub on first use; after that a
new key (a regenerated ladder.pub, say) is refused until it is added here.
Adding and revoking are recorded in the audit trail. A revoked key is never
trusted again.`,
		Example: `  ladder trust list
  ladder trust add ladder.pub
  ladder trust add ci.pub
  ladder trust revoke 3f2a9c1b7d0e
  ladder trust list -o json`,
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the trusted keys (and revoked ones)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var keys []store.TrustedKey
			err := a.serverOr(ctx, func(c *engine.Client) error {
				_, err := a.callRead(ctx, c, "/v1/trust", &keys)
				return err
			}, func(ws *workspace) (err error) {
				keys, err = ws.store.TrustedKeys(ctx)
				return err
			})
			if err != nil {
				return err
			}
			if keys == nil {
				keys = []store.TrustedKey{}
			}
			if a.json() {
				return a.printJSON(keys)
			}
			if len(keys) == 0 {
				fmt.Fprintf(a.Out, "no trusted keys yet: the first signed rung to check a signature trusts %s\n", publicKeyFile)
				return nil
			}
			tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "FINGERPRINT\tADDED\tBY\tSTATE")
			for _, k := range keys {
				state := "trusted"
				if !k.Revoked.IsZero() {
					state = fmt.Sprintf("revoked %s by %s", k.Revoked.Local().Format("2006-01-02 15:04"), orDashStr(k.RevokedBy))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Fingerprint, k.Added.Local().Format("2006-01-02 15:04"), orDashStr(k.AddedBy), state)
			}
			return tw.Flush()
		},
	}
	add := &cobra.Command{
		Use:   "add FILE",
		Short: "Trust the public key in FILE (PEM)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			pem, err := readPublicKey(args[0])
			if err != nil {
				return &ExitError{Code: ExitConfig, Err: err}
			}
			var k store.TrustedKey
			err = a.serverOr(ctx, func(c *engine.Client) error {
				_, err := a.callVerb(ctx, c, "/v1/trust", trustRequest{PEM: string(pem)}, &k)
				return err
			}, func(ws *workspace) (err error) {
				k, err = a.trustAdd(ctx, ws, pem)
				return err
			})
			if err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(k)
			}
			fmt.Fprintf(a.Out, "trusted key %s\n", k.Fingerprint)
			return nil
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke FINGERPRINT",
		Short: "Stop trusting a key (its fingerprint or a unique prefix of 8 or more digits)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var fp string
			err := a.serverOr(ctx, func(c *engine.Client) error {
				var ans map[string]string
				_, err := a.call(ctx, c, http.MethodDelete, "/v1/trust/"+url.PathEscape(args[0]), nil, &ans)
				fp = ans["revoked"]
				return err
			}, func(ws *workspace) (err error) {
				fp, err = a.trustRevoke(ctx, ws, args[0])
				return err
			})
			if err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(map[string]string{"revoked": fp})
			}
			fmt.Fprintf(a.Out, "revoked key %s: snapshots signed with it are refused by signed rungs\n", fp)
			return nil
		},
	}
	cmd.AddCommand(list, add, revoke)
	return cmd
}

// trustRequest asks a ladder server to trust a public key (POST /v1/trust).
type trustRequest struct {
	PEM string `json:"pem"`
}

// trustAdd trusts pem, for an admin on every environment.
func (a *app) trustAdd(ctx context.Context, ws *workspace, pem []byte) (store.TrustedKey, error) {
	by, err := a.actAs(ctx, ws, "", auth.ActionAdmin)
	if err != nil {
		return store.TrustedKey{}, err
	}
	return a.trust(ctx, ws, pem, by, "added")
}

// trustRevoke stops trusting the key whose fingerprint ref begins (8
// digits at least), for an admin on every environment, and returns its
// fingerprint.
func (a *app) trustRevoke(ctx context.Context, ws *workspace, ref string) (string, error) {
	by, err := a.actAs(ctx, ws, "", auth.ActionAdmin)
	if err != nil {
		return "", err
	}
	keys, err := ws.store.TrustedKeys(ctx)
	if err != nil {
		return "", err
	}
	ref = strings.ToLower(ref)
	if len(ref) < 8 {
		return "", exitf(ExitConfig, "give at least 8 digits of the fingerprint")
	}
	var match []store.TrustedKey
	for _, k := range keys {
		if strings.HasPrefix(k.Fingerprint, ref) {
			match = append(match, k)
		}
	}
	switch len(match) {
	case 0:
		return "", &ExitError{Code: ExitNotRunning, Err: fmt.Errorf("no trusted key %s", ref), Hint: "ladder trust list"}
	case 1:
	default:
		return "", exitf(ExitConfig, "%s matches %d keys: give more digits", ref, len(match))
	}
	fp := match[0].Fingerprint
	if err := ws.store.RevokeKey(ctx, fp, by, time.Now().UTC()); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return "", exitf(ExitConfig, "key %s is revoked already", fp)
		}
		return "", err
	}
	_, _ = ws.store.Audit(context.WithoutCancel(ctx), store.AuditEntry{Actor: by, Action: "trust", Outcome: "revoked", Detail: "key " + fp})
	return fp, nil
}

// trustRoutes manage the trusted keys for thin clients, as ladder trust
// does: the list for a viewer of every environment, changes for an admin
// of every environment.
func (v *engineVerbs) trustRoutes(mux engine.Mux) {
	mux.HandleFunc("GET /v1/trust", func(w http.ResponseWriter, r *http.Request) {
		v.read(w, r, "", func(ctx context.Context, a *app, ws *workspace) (any, error) {
			keys, err := ws.store.TrustedKeys(ctx)
			if keys == nil && err == nil {
				keys = []store.TrustedKey{}
			}
			return keys, err
		})
	})
	mux.HandleFunc("POST /v1/trust", func(w http.ResponseWriter, r *http.Request) {
		var req trustRequest
		if !decodeVerb(w, r, &req) {
			return
		}
		v.run(w, r, func(ctx context.Context, a *app, ws *workspace) (any, error) {
			return a.trustAdd(ctx, ws, []byte(req.PEM))
		})
	})
	mux.HandleFunc("DELETE /v1/trust/{fingerprint}", func(w http.ResponseWriter, r *http.Request) {
		ref := r.PathValue("fingerprint")
		v.run(w, r, func(ctx context.Context, a *app, ws *workspace) (any, error) {
			fp, err := a.trustRevoke(ctx, ws, ref)
			if err != nil {
				return nil, err
			}
			return map[string]string{"revoked": fp}, nil
		})
	})
}
