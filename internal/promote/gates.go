package promote

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
)

// Gate names, as recorded with their results.
const (
	GatePreviousRung = "previous-rung"
	GateSoak         = "soak"
	GateApprovals    = "approvals"
	GateSignature    = "signature"
	gateTestPrefix   = "test:"
)

// SiteEvidence is how the snapshot fares on one site of the previous rung.
type SiteEvidence struct {
	Site string
	// Current is true when the site's last successful release is of the
	// snapshot being promoted.
	Current bool
	// Since is when that release finished.
	Since time.Time
	// Unhealthy names what went wrong on the site since then (a failed
	// health check, a crash), empty when nothing did.
	Unhealthy string
	// Samples are the snapshot's telemetry on the site since then.
	Samples []store.Sample
}

// TestResult is the outcome of one gate test command.
type TestResult struct {
	Name   string
	Passed bool
	// Detail says what happened: the exit status or the timeout, and the
	// last line of output.
	Detail string
}

// Evidence is everything a promotion's gates are decided on.
type Evidence struct {
	Snapshot  *snapshot.Snapshot
	To, From  *spec.Environment
	Sites     []SiteEvidence
	Tests     []TestResult
	Approvals []store.Approval
	// Authors are who made or promoted the snapshot, the promotion's
	// requester among them: on a protected rung their approvals do not
	// count (two-person rule).
	Authors []string
	// SignatureErr is nil when the snapshot's signature verified.
	SignatureErr error
	// Services are the stack's services, whose telemetry is judged.
	Services []string
	Now      time.Time
}

// NeedsSignature reports whether promotions to env verify signatures.
func NeedsSignature(env *spec.Environment) bool {
	return env.Gates.Signed || env.Protected
}

// Evaluate decides every gate of the promotion, in a fixed order. It is
// pure: the same evidence always gives the same verdicts.
func Evaluate(ev Evidence) []store.GateResult {
	var out []store.GateResult
	add := func(gate string, passed bool, format string, args ...any) {
		out = append(out, store.GateResult{Gate: gate, Passed: passed, Reason: fmt.Sprintf(format, args...), At: ev.Now})
	}
	short := snapshot.Short(ev.Snapshot.ID)

	var missing []string
	for _, s := range ev.Sites {
		if !s.Current {
			missing = append(missing, s.Site)
		}
	}
	switch {
	case len(ev.Sites) == 0:
		add(GatePreviousRung, false, "%s has no sites to have run snapshot %s on", ev.From.Name, short)
	case len(missing) > 0:
		add(GatePreviousRung, false, "snapshot %s does not run on %s (site %s): promote it to %s first — a promotion may not skip a rung",
			short, ev.From.Name, strings.Join(missing, ", "), ev.From.Name)
	default:
		add(GatePreviousRung, true, "snapshot %s runs on every site of %s", short, ev.From.Name)
	}

	if soak := ev.To.Gates.Soak; soak > 0 {
		var waiting, sick []string
		for _, s := range ev.Sites {
			switch {
			case !s.Current:
			case s.Unhealthy != "":
				sick = append(sick, fmt.Sprintf("%s (%s)", s.Site, s.Unhealthy))
			case ev.Now.Sub(s.Since) < soak:
				waiting = append(waiting, fmt.Sprintf("%s more on site %s", (soak-ev.Now.Sub(s.Since)).Round(time.Second), s.Site))
			}
		}
		switch {
		case len(missing) > 0 || len(ev.Sites) == 0:
			add(GateSoak, false, "no soak: the snapshot is not running on %s", ev.From.Name)
		case len(sick) > 0:
			add(GateSoak, false, "not healthy on %s during the %s soak: %s", ev.From.Name, soak, strings.Join(sick, "; "))
		case len(waiting) > 0:
			add(GateSoak, false, "soaking on %s: needs %s healthy; wait %s", ev.From.Name, soak, strings.Join(waiting, ", "))
		default:
			add(GateSoak, true, "ran healthy on %s for at least %s", ev.From.Name, soak)
		}
	}

	// The telemetry gate judges the soak window with the very limits and
	// check known-good marking uses (CheckTelemetry), so the two agree.
	limits := LimitsOf(ev.To.Gates)
	switch {
	case len(missing) > 0 || len(ev.Sites) == 0:
		add(GateTelemetry, false, "no telemetry: the snapshot is not running on %s", ev.From.Name)
	default:
		var over, fine []string
		for _, s := range ev.Sites {
			from, to := soakWindow(s.Since, ev.To.Gates.Soak, ev.Now)
			v := CheckTelemetry(ev.Services, s.Samples, from, to, limits)
			if v.OK {
				fine = append(fine, fmt.Sprintf("site %s: %s", s.Site, v.Reason))
			} else {
				over = append(over, fmt.Sprintf("site %s: %s", s.Site, v.Reason))
			}
		}
		if len(over) > 0 {
			add(GateTelemetry, false, "over the limits on %s: %s", ev.From.Name, strings.Join(over, "; "))
		} else {
			add(GateTelemetry, true, "on %s, %s", ev.From.Name, strings.Join(fine, "; "))
		}
	}

	results := map[string]TestResult{}
	for _, r := range ev.Tests {
		results[r.Name] = r
	}
	for _, test := range ev.To.Gates.Tests {
		r, ok := results[test.Name]
		switch {
		case !ok:
			add(gateTestPrefix+test.Name, false, "test %s was not run", test.Name)
		case r.Passed:
			add(gateTestPrefix+test.Name, true, "test %s passed against %s: %s", test.Name, ev.From.Name, r.Detail)
		default:
			add(gateTestPrefix+test.Name, false, "test %s failed against %s: %s", test.Name, ev.From.Name, r.Detail)
		}
	}

	if need := ev.To.Gates.Approvals; need > 0 {
		names, excluded := countedApprovers(ev)
		note := ""
		if len(excluded) > 0 {
			note = fmt.Sprintf(" (not counted: %s, who made or promoted it)", strings.Join(excluded, ", "))
		}
		if len(names) >= need {
			add(GateApprovals, true, "approved by %s%s", strings.Join(names, ", "), note)
		} else {
			add(GateApprovals, false, "needs %d approval(s), has %d%s%s: ladder approve %s --to %s",
				need, len(names), listed(names), note, short, ev.To.Name)
		}
	}

	if NeedsSignature(ev.To) {
		if ev.SignatureErr != nil {
			add(GateSignature, false, "%v", ev.SignatureErr)
		} else {
			add(GateSignature, true, "signature of snapshot %s verifies", short)
		}
	}
	return out
}

func listed(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return " (" + strings.Join(names, ", ") + ")"
}

// Passed reports whether every gate passed, and lists the ones that did not.
func Passed(results []store.GateResult) (bool, []store.GateResult) {
	var failed []store.GateResult
	for _, r := range results {
		if !r.Passed {
			failed = append(failed, r)
		}
	}
	return len(failed) == 0, failed
}

// countedApprovers returns the distinct identities whose approvals count,
// sorted, and those left out for having made or promoted the snapshot.
// Names are compared normalised; an anonymous approval never counts.
func countedApprovers(ev Evidence) (counted, excluded []string) {
	authors := map[string]bool{}
	if ev.To.Protected {
		for _, a := range ev.Authors {
			authors[auth.NormalizeName(a)] = true
		}
	}
	by, out := map[string]bool{}, map[string]bool{}
	for _, a := range ev.Approvals {
		n := auth.NormalizeName(a.By)
		switch {
		case auth.Anonymous(n):
		case authors[n]:
			out[n] = true
		default:
			by[n] = true
		}
	}
	for n := range by {
		counted = append(counted, n)
	}
	for n := range out {
		excluded = append(excluded, n)
	}
	sort.Strings(counted)
	sort.Strings(excluded)
	return counted, excluded
}
