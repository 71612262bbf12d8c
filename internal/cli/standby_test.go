package cli

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlite"
)

// A standby readies the images of what process-target sites run now:
// their current snapshot's artifacts, each once; not a compose site's
// (the engine holds those), nor a snapshot a site no longer runs.
func TestProcessArtifactsAreWhatProcessSitesRun(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "ladder.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	digest := func(s string) string { return fmt.Sprintf("sha256:%064x", len(s)*7919+int(s[0])) }
	snap := func(rev string, svcs ...string) string {
		arts := map[string]snapshot.Artifact{}
		for _, svc := range svcs {
			arts[svc] = snapshot.Artifact{Service: svc, Digest: digest(svc + rev), Builder: "go"}
		}
		s := snapshot.New("shop", strings.Repeat("ab", 32), arts, rev, time.Now())
		if _, err := st.PutSnapshot(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s.ID
	}
	old, now, other := snap("1", "api", "web"), snap("22", "api", "web"), snap("333", "db")
	for _, r := range []store.Release{
		{Env: "dev", Site: "default", Snapshot: old, Target: spec.KindProcess},
		{Env: "dev", Site: "default", Snapshot: now, Target: spec.KindProcess},
		{Env: "staging", Site: "default", Snapshot: now, Target: spec.KindProcess}, // the same images again
		{Env: "prod", Site: "eu", Snapshot: other, Target: spec.KindCompose},
	} {
		r.Phase, r.Started = store.PhaseSucceeded, time.Now()
		if _, err := st.CreateRelease(ctx, r); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	arts, err := processArtifacts(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range arts {
		got = append(got, a.Digest)
	}
	want := []string{digest("api22"), digest("web22")}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("readied %v, want the current process snapshot's %v", got, want)
	}
}
