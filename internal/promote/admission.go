package promote

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
)

// ErrNotAdmitted is what every refusal of a snapshot by a rung's admission
// wraps: the HTTP API answers it with 409, the CLI with ExitRefused.
var ErrNotAdmitted = errors.New("not admitted")

// AdmissionError is a rung refusing a snapshot: it has no valid grant and
// is not known-good there, its signature does not verify with a trusted
// key, or ladder.yaml asks for less than the rung's pinned policy.
type AdmissionError struct {
	Env      string
	Snapshot string
	Reason   string
	Hint     string
	Err      error
}

func (e *AdmissionError) Error() string {
	what := "this snapshot"
	if e.Snapshot != "" {
		what = "snapshot " + snapshot.Short(e.Snapshot)
	}
	msg := fmt.Sprintf("%s refuses %s: %s", e.Env, what, e.Reason)
	if e.Hint != "" {
		msg += " (try: " + e.Hint + ")"
	}
	return msg
}

func (e *AdmissionError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrNotAdmitted, e.Err}
	}
	return []error{ErrNotAdmitted}
}

// GrantState is what became of the grant a deploy presented.
type GrantState string

// Grant states.
const (
	GrantNone    GrantState = "none"    // no grant presented
	GrantValid   GrantState = "valid"   // issued for this env and snapshot, unused, unexpired: consumed now
	GrantUsed    GrantState = "used"    // used before
	GrantExpired GrantState = "expired" // past its expiry
	GrantUnknown GrantState = "unknown" // not issued for this env and snapshot
)

// GrantTTL is how long a grant stays usable after the gates passed: long
// enough to push the images to the rung's registry first.
const GrantTTL = 15 * time.Minute

// Admission is everything a rung's admission decides on.
type Admission struct {
	Env      string
	Snapshot string
	Policy   Policy
	// Weaker lists how ladder.yaml asks for less than the pinned policy.
	Weaker []string
	Grant  GrantState
	// KnownGood is true when the snapshot is known-good on the rung.
	KnownGood bool
	// SignatureErr is nil when the signature verified with a trusted key
	// (only looked at where the policy needs a signature).
	SignatureErr error
}

// Decide admits a snapshot to a rung or says why not. It is pure.
func Decide(a Admission) error {
	refuse := func(reason, hint string, err error) error {
		return &AdmissionError{Env: a.Env, Snapshot: a.Snapshot, Reason: reason, Hint: hint, Err: err}
	}
	if len(a.Weaker) > 0 {
		return refuse("ladder.yaml asks for less than the gate policy pinned for it: "+strings.Join(a.Weaker, "; "),
			fmt.Sprintf("ladder policy show %s; if the change is meant, ladder policy accept %s", a.Env, a.Env), nil)
	}
	if !a.Policy.Gated() {
		return nil
	}
	if a.Policy.NeedsSignature() && a.SignatureErr != nil {
		return refuse(a.SignatureErr.Error(), "ladder trust list", a.SignatureErr)
	}
	if a.Grant == GrantValid || a.KnownGood {
		return nil
	}
	gates := strings.Join(a.Policy.Gates(), ", ")
	short := snapshot.Short(a.Snapshot)
	hint := fmt.Sprintf("ladder promote %s --to %s", short, a.Env)
	switch a.Grant {
	case GrantUsed:
		return refuse("its grant was used already (a grant admits one deploy)", hint, nil)
	case GrantExpired:
		return refuse("its grant expired", hint, nil)
	case GrantUnknown:
		return refuse("the grant presented was not issued for this snapshot on this rung", hint, nil)
	}
	return refuse(fmt.Sprintf("the rung is gated (%s): a snapshot gets here only through a promotion or a rollback whose gates passed, or as a snapshot known-good here", gates), hint, nil)
}

// NewGrant makes a grant's token and its record (which holds only the
// token's hash).
func NewGrant(env, snap, purpose string, now time.Time) (token string, g store.Grant) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token = hex.EncodeToString(b)
	return token, store.Grant{Hash: HashGrant(token), Env: env, Snapshot: snap, Purpose: purpose, Issued: now, Expires: now.Add(GrantTTL)}
}

// HashGrant is how a grant's token is stored and looked up.
func HashGrant(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// issueGrant records a grant for snap on env and returns its token.
func (p *Promoter) issueGrant(ctx context.Context, env, snap, purpose string) (string, error) {
	token, g := NewGrant(env, snap, purpose, p.now())
	if err := p.Store.PutGrant(ctx, g); err != nil {
		return "", fmt.Errorf("issuing the grant for snapshot %s on %s: %w", snapshot.Short(snap), env, err)
	}
	return token, nil
}

// Admitter is the one admission every way onto a rung goes through (the
// agent's deploy, hence promote, rollback, up, watch and the HTTP API).
type Admitter struct {
	Store store.Store
	// Verify checks a snapshot's signature against the trusted keys (and
	// its artifacts); nil means signatures cannot be checked here.
	Verify func(*snapshot.Snapshot) error
	Now    func() time.Time
}

// Admit admits snap to env, consuming grant (a token from a promotion or
// rollback) when one is given, or refuses with an *AdmissionError. The
// rung's policy is pinned at its first deploy (see CheckPolicy).
func (a *Admitter) Admit(ctx context.Context, env *spec.Environment, snap *snapshot.Snapshot, grant, by string) error {
	now := time.Now().UTC()
	if a.Now != nil {
		now = a.Now().UTC()
	}
	ad := Admission{Env: env.Name, Snapshot: snap.ID, Grant: GrantNone}
	pol, err := CheckPolicy(ctx, a.Store, env, by, now)
	var refused *AdmissionError
	switch {
	case errors.As(err, &refused):
		refused.Snapshot = snap.ID
		a.audit(ctx, env.Name, snap.ID, by, now, refused)
		return refused
	case err != nil:
		return err
	}
	ad.Policy = pol
	if pol.Gated() {
		if pol.NeedsSignature() {
			if a.Verify == nil {
				ad.SignatureErr = errors.New("this ladder cannot verify signatures")
			} else {
				ad.SignatureErr = a.Verify(snap)
			}
		}
		if ad.SignatureErr == nil {
			if ad.Grant, err = a.useGrant(ctx, env.Name, snap.ID, grant, now); err != nil {
				return err
			}
			if ad.Grant != GrantValid {
				good, err := a.Store.ListReleases(ctx, store.ReleaseFilter{Env: env.Name, Snapshot: snap.ID, KnownGood: true, Limit: 1})
				if err != nil {
					return err
				}
				ad.KnownGood = len(good) > 0
			}
		}
	}
	err = Decide(ad)
	if errors.As(err, &refused) {
		a.audit(ctx, env.Name, snap.ID, by, now, refused)
	}
	return err
}

func (a *Admitter) useGrant(ctx context.Context, env, snap, token string, now time.Time) (GrantState, error) {
	if token == "" {
		return GrantNone, nil
	}
	g, err := a.Store.UseGrant(ctx, HashGrant(token), env, snap, now)
	switch {
	case err == nil:
		return GrantValid, nil
	case errors.Is(err, store.ErrNotFound):
		return GrantUnknown, nil
	case errors.Is(err, store.ErrConflict) && !g.Used.IsZero():
		return GrantUsed, nil
	case errors.Is(err, store.ErrConflict):
		return GrantExpired, nil
	}
	return GrantNone, err
}

func (a *Admitter) audit(ctx context.Context, env, snap, by string, now time.Time, e *AdmissionError) {
	_, _ = a.Store.Audit(context.WithoutCancel(ctx), store.AuditEntry{Time: now, Actor: orLadder(by), Action: "admit", Env: env, Snapshot: snap, Outcome: "refused", Detail: e.Reason})
}
