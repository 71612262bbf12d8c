package promote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
)

// defaultTestTimeout bounds a gate test that sets no timeout.
const defaultTestTimeout = 60 * time.Second

// Gather collects the evidence for promoting snap from one rung to the
// next: where it runs, the gate tests' outcomes, approvals, signature.
func (p *Promoter) Gather(ctx context.Context, snap *snapshot.Snapshot, from, to *spec.Environment) (*Evidence, error) {
	ev := &Evidence{Snapshot: snap, To: to, From: from, Services: p.services(), Now: p.now()}
	for _, site := range from.Sites {
		se, err := p.siteEvidence(ctx, snap.ID, from.Name, site.Name)
		if err != nil {
			return nil, err
		}
		ev.Sites = append(ev.Sites, se)
	}
	if len(to.Gates.Tests) > 0 {
		vars, err := p.testVars(ctx, snap, from.Name)
		for _, test := range to.Gates.Tests {
			if err != nil {
				ev.Tests = append(ev.Tests, TestResult{Name: test.Name, Detail: err.Error()})
				continue
			}
			ev.Tests = append(ev.Tests, p.runTest(ctx, test, vars))
		}
	}
	if to.Gates.Approvals > 0 {
		approvals, err := p.Store.Approvals(ctx, snap.ID, to.Name)
		if err != nil {
			return nil, err
		}
		ev.Approvals = approvals
	}
	if NeedsSignature(to) {
		if p.Verify == nil {
			ev.SignatureErr = errors.New("no signature verifier configured")
		} else {
			ev.SignatureErr = p.Verify(snap)
		}
	}
	return ev, nil
}

// siteEvidence reads whether snapshot id is a site's current release,
// since when, and whether anything went wrong with it since.
func (p *Promoter) siteEvidence(ctx context.Context, id, env, site string) (SiteEvidence, error) {
	se := SiteEvidence{Site: site}
	rels, err := p.Store.ListReleases(ctx, store.ReleaseFilter{Env: env, Site: site, Phase: store.PhaseSucceeded, Limit: 1})
	if err != nil {
		return se, err
	}
	if len(rels) == 0 || rels[0].Snapshot != id {
		return se, nil
	}
	se.Current, se.Since = true, rels[0].Finished
	if se.Unhealthy, err = p.troubleSince(ctx, id, env, site, se.Since); err != nil {
		return se, err
	}
	se.Samples, err = p.Store.ListSamples(ctx, store.SampleFilter{Env: env, Site: site, Snapshot: id, Since: se.Since})
	return se, err
}

// troubleSince names the first sign of ill health of snapshot id on a site
// after since: an instance turning unhealthy, a crash, a failed release.
func (p *Promoter) troubleSince(ctx context.Context, id, env, site string, since time.Time) (string, error) {
	events, err := p.Store.ListEvents(ctx, store.EventFilter{Env: env, Site: site, Snapshot: id, Limit: 500})
	if err != nil {
		return "", err
	}
	for _, e := range events {
		if e.Time.Before(since) {
			continue
		}
		switch {
		case e.Kind == store.EventHealthChanged && e.Attrs["to"] == "unhealthy":
			return fmt.Sprintf("%s unhealthy at %s", e.Service, e.Time.Local().Format("15:04:05")), nil
		case e.Kind == store.EventRestarted:
			return fmt.Sprintf("%s crashed at %s", e.Service, e.Time.Local().Format("15:04:05")), nil
		case e.Kind == store.EventDrift:
			return fmt.Sprintf("drift at %s", e.Time.Local().Format("15:04:05")), nil
		}
	}
	return "", nil
}

// testVars is the environment of gate tests: the snapshot, the rung they
// run against, and SERVICE_URL for each of its published services.
func (p *Promoter) testVars(ctx context.Context, snap *snapshot.Snapshot, env string) ([]string, error) {
	vars := []string{"LADDER_SNAPSHOT=" + snap.ID, "LADDER_ENVIRONMENT=" + env}
	if self, err := os.Executable(); err == nil {
		vars = append(vars, "LADDER_BIN="+self)
	}
	if p.Endpoints == nil {
		return vars, nil
	}
	eps, err := p.Endpoints(ctx, env)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s to test it: %w", env, err)
	}
	keys := make([]string, 0, len(eps))
	for k := range eps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vars = append(vars, k+"="+eps[k])
	}
	return vars, nil
}

// runTest runs one gate test command, killing its whole process group if
// it outlives its timeout.
func (p *Promoter) runTest(ctx context.Context, test spec.GateTest, vars []string) TestResult {
	timeout := test.Timeout
	if timeout <= 0 {
		timeout = defaultTestTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.Command(test.Command[0], test.Command[1:]...)
	cmd.Dir = p.Dir
	cmd.Env = testEnv(os.Environ(), vars, test.Env)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	begun := time.Now()
	if err := cmd.Start(); err != nil {
		return TestResult{Name: test.Name, Detail: err.Error()}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return TestResult{Name: test.Name, Detail: fmt.Sprintf("timed out after %s%s", timeout, lastLine(out.String()))}
	}
	took := time.Since(begun).Round(time.Millisecond)
	if err != nil {
		return TestResult{Name: test.Name, Detail: fmt.Sprintf("%v after %s%s", err, took, lastLine(out.String()))}
	}
	return TestResult{Name: test.Name, Passed: true, Detail: fmt.Sprintf("exit 0 in %s", took)}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	return ": " + lines[len(lines)-1]
}
