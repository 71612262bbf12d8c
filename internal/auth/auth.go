package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Role is what a principal may do on an environment.
type Role int

// Roles, weakest first: each holds every right of the ones before it.
const (
	RoleNone Role = iota
	Viewer
	Deployer
	Promoter
	Approver
	Admin
)

var roleNames = []string{"", "viewer", "deployer", "promoter", "approver", "admin"}

func (r Role) String() string {
	if r < 0 || int(r) >= len(roleNames) {
		return fmt.Sprintf("role(%d)", int(r))
	}
	return roleNames[r]
}

// RoleNames lists the roles, weakest first, for help and errors.
func RoleNames() []string { return slices.Clone(roleNames[1:]) }

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	i := slices.Index(roleNames, strings.ToLower(strings.TrimSpace(s)))
	if i <= 0 {
		return RoleNone, fmt.Errorf("unknown role %q: one of %s", s, strings.Join(RoleNames(), ", "))
	}
	return Role(i), nil
}

// AnyEnv is the environment of a grant that holds on every environment.
const AnyEnv = "*"

// Grant is a role on one environment, or on all of them (Env "*").
type Grant struct {
	Role Role
	Env  string
}

func (g Grant) String() string { return g.Role.String() + ":" + g.Env }

// ParseGrant reads ROLE or ROLE:ENV; ROLE alone is ROLE:*.
func ParseGrant(s string) (Grant, error) {
	role, env, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || env == "" {
		env = AnyEnv
	}
	r, err := ParseRole(role)
	if err != nil {
		return Grant{}, err
	}
	if env != AnyEnv && !validEnv(env) {
		return Grant{}, fmt.Errorf("grant %q: %q is not an environment name", s, env)
	}
	return Grant{Role: r, Env: env}, nil
}

func validEnv(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return s != ""
}

// ParseGrants reads a list of grants (as the store keeps them).
func ParseGrants(ss []string) ([]Grant, error) {
	out := make([]Grant, 0, len(ss))
	for _, s := range ss {
		g, err := ParseGrant(s)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// GrantStrings is the inverse of ParseGrants.
func GrantStrings(gs []Grant) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.String()
	}
	return out
}

// Principal is an authenticated identity.
type Principal struct {
	// Name is normalised (NormalizeName): compare names with ==.
	Name   string
	Grants []Grant
}

// Action is something a principal asks to do on an environment.
type Action string

// Actions, with the role each needs (Needs).
const (
	ActionRead     Action = "read"
	ActionDeploy   Action = "deploy"
	ActionDown     Action = "down"
	ActionPromote  Action = "promote"
	ActionRollback Action = "rollback"
	ActionApprove  Action = "approve"
	// ActionAdmin manages tokens.
	ActionAdmin Action = "admin"
)

// Needs returns the weakest role that may do a; an unknown action needs
// admin, so a new action is closed until someone decides otherwise.
func Needs(a Action) Role {
	switch a {
	case ActionRead:
		return Viewer
	case ActionDeploy, ActionDown:
		return Deployer
	case ActionPromote, ActionRollback:
		return Promoter
	case ActionApprove:
		return Approver
	default:
		return Admin
	}
}

// Allowed reports whether p may do a on env. A grant on "*" holds on
// every environment; env "" (an action on no one environment, such as
// managing tokens) is allowed only by a "*" grant.
func Allowed(p Principal, env string, a Action) bool {
	need := Needs(a)
	for _, g := range p.Grants {
		if g.Role >= need && (g.Env == AnyEnv || (env != "" && g.Env == env)) {
			return true
		}
	}
	return false
}

// Errors callers classify with errors.Is: ErrUnauthenticated is a missing,
// unknown, revoked or expired credential (HTTP 401); ErrForbidden a known
// principal without the role (HTTP 403).
var (
	ErrUnauthenticated = errors.New("not authenticated")
	ErrForbidden       = errors.New("not allowed")
)

// ForbiddenError says who lacked which role where.
type ForbiddenError struct {
	Name   string
	Env    string
	Action Action
}

func (e *ForbiddenError) Error() string {
	where := "on " + e.Env
	if e.Env == "" {
		where = "on every environment"
	}
	return fmt.Sprintf("%s may not %s: that needs the %s role %s", e.Name, e.Action, Needs(e.Action), where)
}

func (e *ForbiddenError) Is(target error) bool { return target == ErrForbidden }

// Authorize is Allowed as an error: nil, or a *ForbiddenError.
func Authorize(p Principal, env string, a Action) error {
	if Allowed(p, env, a) {
		return nil
	}
	return &ForbiddenError{Name: p.Name, Env: env, Action: a}
}

var fold = cases.Fold()

// NormalizeName makes the form of a name that identities are compared
// in: trimmed, Unicode NFC, case-folded. "Ana@Example.com" and
// "ana@example.com" are one identity, as are the composed and decomposed
// spellings of "José".
func NormalizeName(s string) string {
	return norm.NFC.String(fold.String(norm.NFC.String(strings.TrimSpace(s))))
}

// Anonymous reports whether a (normalised) name identifies no one: such a
// name never counts as an approval.
func Anonymous(name string) bool {
	return name == "" || name == "unknown"
}

// CheckName validates a principal's name: printable, no spaces or
// separators a list or a header would split on, at most 128 bytes.
func CheckName(name string) error {
	n := NormalizeName(name)
	switch {
	case Anonymous(n):
		return fmt.Errorf("%q is not a name anyone can be known by", name)
	case len(n) > 128:
		return fmt.Errorf("name %q is longer than 128 bytes", name)
	}
	for _, c := range n {
		if c <= ' ' || c == 0x7f || strings.ContainsRune(",;:\"'\\/<>", c) {
			return fmt.Errorf("name %q: use letters, digits, '.', '-', '_' and '@'", name)
		}
	}
	return nil
}
