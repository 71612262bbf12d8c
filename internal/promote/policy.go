package promote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
)

// Policy is what a rung's gates ask for, in the form the store pins it:
// at a rung's first deploy its policy is recorded, and a ladder.yaml that
// later asks for less is refused until someone accepts it (AcceptPolicy),
// so editing a file cannot quietly open a protected rung.
type Policy struct {
	// From is the rung promotions come from: changing it could skip a rung.
	From      string `json:"from,omitempty"`
	Protected bool   `json:"protected,omitempty"`
	Signed    bool   `json:"signed,omitempty"`
	Approvals int    `json:"approvals,omitempty"`
	// Soak and MaxP95 are Go durations ("30m"); MaxP95 "" sets no limit.
	Soak string `json:"soak,omitempty"`
	// Tests are the gate tests' names, sorted.
	Tests        []string `json:"tests,omitempty"`
	MaxErrorRate float64  `json:"maxErrorRate"`
	MaxP95       string   `json:"maxP95,omitempty"`
}

// PolicyOf is env's policy as ladder.yaml states it.
func PolicyOf(env *spec.Environment) Policy {
	p := Policy{
		From: env.From, Protected: env.Protected, Signed: env.Gates.Signed, Approvals: env.Gates.Approvals,
		MaxErrorRate: env.Gates.ErrorRateLimit(),
	}
	if env.Gates.Soak > 0 {
		p.Soak = env.Gates.Soak.String()
	}
	if env.Gates.MaxP95 > 0 {
		p.MaxP95 = env.Gates.MaxP95.String()
	}
	for _, t := range env.Gates.Tests {
		p.Tests = append(p.Tests, t.Name)
	}
	slices.Sort(p.Tests)
	return p
}

func duration(s string) time.Duration {
	d, _ := time.ParseDuration(s)
	return d
}

// Gated reports whether a snapshot may reach the rung only through its
// gates (a promotion or a rollback), never by a bare deploy.
func (p Policy) Gated() bool {
	return p.Protected || p.Signed || p.Approvals > 0 || duration(p.Soak) > 0 || len(p.Tests) > 0
}

// NeedsSignature reports whether the rung verifies signatures.
func (p Policy) NeedsSignature() bool { return p.Protected || p.Signed }

// Gates names what the policy asks for, for messages.
func (p Policy) Gates() []string {
	var out []string
	if p.Protected {
		out = append(out, "protected")
	}
	if p.Signed {
		out = append(out, "signed")
	}
	if p.Approvals > 0 {
		out = append(out, fmt.Sprintf("%d approval(s)", p.Approvals))
	}
	if p.Soak != "" {
		out = append(out, "soak "+p.Soak)
	}
	for _, t := range p.Tests {
		out = append(out, "test "+t)
	}
	return out
}

// Weakenings lists every way file asks for less than pinned; empty when
// file is as strict or stricter in every respect.
func Weakenings(pinned, file Policy) []string {
	var out []string
	if pinned.From != file.From {
		out = append(out, fmt.Sprintf("promotes from %s instead of %s", orNone(file.From), orNone(pinned.From)))
	}
	if pinned.Protected && !file.Protected {
		out = append(out, "protected: true is gone")
	}
	if pinned.Signed && !file.Signed {
		out = append(out, "gates.signed: true is gone")
	}
	if file.Approvals < pinned.Approvals {
		out = append(out, fmt.Sprintf("approvals %d instead of %d", file.Approvals, pinned.Approvals))
	}
	if duration(file.Soak) < duration(pinned.Soak) {
		out = append(out, fmt.Sprintf("soak %s instead of %s", orNone(file.Soak), pinned.Soak))
	}
	for _, t := range pinned.Tests {
		if !slices.Contains(file.Tests, t) {
			out = append(out, fmt.Sprintf("gate test %s is gone", t))
		}
	}
	if file.MaxErrorRate > pinned.MaxErrorRate {
		out = append(out, fmt.Sprintf("maxErrorRate %g instead of %g", file.MaxErrorRate, pinned.MaxErrorRate))
	}
	if pp := duration(pinned.MaxP95); pp > 0 {
		if fp := duration(file.MaxP95); fp == 0 || fp > pp {
			out = append(out, fmt.Sprintf("maxP95 %s instead of %s", orNone(file.MaxP95), pinned.MaxP95))
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// PolicyState is a rung's pinned policy beside its ladder.yaml's.
type PolicyState struct {
	Env string `json:"environment"`
	// Pinned is nil until the rung's first deploy pins it.
	Pinned   *Policy   `json:"pinned"`
	PinnedAt time.Time `json:"pinnedAt,omitzero"`
	PinnedBy string    `json:"pinnedBy,omitempty"`
	File     Policy    `json:"file"`
	// Weaker lists how the file asks for less than the pinned policy;
	// while it is not empty the rung refuses every snapshot.
	Weaker []string `json:"weaker"`
}

// PolicyOfStore reads env's pinned policy and compares it with env's
// ladder.yaml.
func PolicyOfStore(ctx context.Context, st store.Store, env *spec.Environment) (PolicyState, error) {
	ps := PolicyState{Env: env.Name, File: PolicyOf(env), Weaker: []string{}}
	pin, err := st.PinnedPolicy(ctx, env.Name)
	if errors.Is(err, store.ErrNotFound) {
		return ps, nil
	}
	if err != nil {
		return ps, err
	}
	var pinned Policy
	if err := json.Unmarshal([]byte(pin.Policy), &pinned); err != nil {
		return ps, fmt.Errorf("the policy pinned for %s is not readable: %w", env.Name, err)
	}
	ps.Pinned, ps.PinnedAt, ps.PinnedBy = &pinned, pin.Pinned, pin.By
	if w := Weakenings(pinned, ps.File); w != nil {
		ps.Weaker = w
	}
	return ps, nil
}

// pin records p as env's policy.
func pin(ctx context.Context, st store.Store, env string, p Policy, by string, now time.Time) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return st.PinPolicy(ctx, store.PinnedPolicy{Env: env, Policy: string(b), Pinned: now, By: by})
}

// CheckPolicy pins env's policy at its first use and whenever ladder.yaml
// makes it stricter, and refuses (an *AdmissionError) while ladder.yaml
// asks for less than the pinned policy. Changes are audited.
func CheckPolicy(ctx context.Context, st store.Store, env *spec.Environment, by string, now time.Time) (Policy, error) {
	ps, err := PolicyOfStore(ctx, st, env)
	if err != nil {
		return ps.File, err
	}
	switch {
	case len(ps.Weaker) > 0:
		return ps.File, &AdmissionError{Env: env.Name, Reason: "ladder.yaml asks for less than the gate policy pinned for it: " + strings.Join(ps.Weaker, "; "),
			Hint: fmt.Sprintf("ladder policy show %s; if the change is meant, ladder policy accept %s", env.Name, env.Name)}
	case ps.Pinned == nil, !equalPolicy(*ps.Pinned, ps.File):
		outcome := "pinned"
		if ps.Pinned != nil {
			outcome = "strengthened"
		}
		if err := pin(ctx, st, env.Name, ps.File, by, now); err != nil {
			return ps.File, err
		}
		b, _ := json.Marshal(ps.File)
		_, _ = st.Audit(context.WithoutCancel(ctx), store.AuditEntry{Time: now, Actor: orLadder(by), Action: "policy", Env: env.Name, Outcome: outcome, Detail: string(b)})
	}
	return ps.File, nil
}

// AcceptPolicy pins env's ladder.yaml policy as it is, weaker or not.
func AcceptPolicy(ctx context.Context, st store.Store, env *spec.Environment, by string, now time.Time) (PolicyState, error) {
	ps, err := PolicyOfStore(ctx, st, env)
	if err != nil {
		return ps, err
	}
	if err := pin(ctx, st, env.Name, ps.File, by, now); err != nil {
		return ps, err
	}
	b, _ := json.Marshal(ps.File)
	detail := string(b)
	if len(ps.Weaker) > 0 {
		detail = "weaker: " + strings.Join(ps.Weaker, "; ") + "; now " + detail
	}
	_, _ = st.Audit(context.WithoutCancel(ctx), store.AuditEntry{Time: now, Actor: orLadder(by), Action: "policy", Env: env.Name, Outcome: "accepted", Detail: detail})
	return PolicyOfStore(ctx, st, env)
}

func equalPolicy(a, b Policy) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func orLadder(by string) string {
	if by == "" {
		return "ladder"
	}
	return by
}
