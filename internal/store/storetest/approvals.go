package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

var approvalTests = []test{
	{"OnePerIdentity", testApprovalIdentity},
	{"OldestFirst", testApprovalOrder},
	{"DefaultTime", testApprovalDefaultTime},
	{"ConcurrentDuplicate", testApprovalConcurrent},
}

var jobTests = []test{
	{"NewestFirst", testJobList},
	{"DefaultTime", testJobDefaultTime},
}

// testApprovalIdentity: one approval per (snapshot, env, by); a second by
// the same identity is ErrConflict and leaves the first as it was.
func testApprovalIdentity(t *testing.T, s store.Store) {
	ctx := t.Context()
	snapA, snapB := hexOf("a"), hexOf("b")
	steps := []struct {
		name    string
		a       store.Approval
		wantErr error
	}{
		{"First", store.Approval{Snapshot: snapA, Env: "prod", By: "alice", Comment: "lgtm", At: at(1)}, nil},
		{"OtherIdentity", store.Approval{Snapshot: snapA, Env: "prod", By: "bob", At: at(2)}, nil},
		{"SameIdentityAgain", store.Approval{Snapshot: snapA, Env: "prod", By: "alice", Comment: "again", At: at(3)}, store.ErrConflict},
		{"SameIdentityOtherEnv", store.Approval{Snapshot: snapA, Env: "staging", By: "alice", At: at(4)}, nil},
		{"SameIdentityOtherSnapshot", store.Approval{Snapshot: snapB, Env: "prod", By: "alice", At: at(5)}, nil},
		{"IdentityIsCaseSensitive", store.Approval{Snapshot: snapA, Env: "prod", By: "Alice", At: at(6)}, nil},
		{"OtherIdentityAgain", store.Approval{Snapshot: snapA, Env: "prod", By: "bob", Comment: "x", At: at(7)}, store.ErrConflict},
	}
	for _, st := range steps {
		err := s.AddApproval(ctx, st.a)
		if st.wantErr == nil {
			must(t, "AddApproval "+st.name, err)
		} else {
			isErr(t, "AddApproval "+st.name, err, st.wantErr)
		}
	}
	ap := func(i int) store.Approval { return steps[i].a }
	cases := []struct {
		snap, env string
		want      []store.Approval
	}{
		{snapA, "prod", []store.Approval{ap(0), ap(1), ap(5)}},
		{snapA, "staging", []store.Approval{ap(3)}},
		{snapB, "prod", []store.Approval{ap(4)}},
		{snapB, "staging", nil},
		{hexOf("c"), "prod", nil},
	}
	for _, tc := range cases {
		got, err := s.Approvals(ctx, tc.snap, tc.env)
		must(t, "Approvals", err)
		equalList(t, fmt.Sprintf("Approvals(%.8s, %s)", tc.snap, tc.env), got, tc.want)
	}
}

// testApprovalOrder: oldest first means earliest At; equal times keep the
// order added in. Times are stored as UTC milliseconds.
func testApprovalOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	snap := hexOf("a")
	added := []store.Approval{
		{Snapshot: snap, Env: "prod", By: "carol", At: at(5)},
		{Snapshot: snap, Env: "prod", By: "dave", At: at(2)},
		{Snapshot: snap, Env: "prod", By: "erin", At: at(5)},
		{Snapshot: snap, Env: "prod", By: "frank", Comment: "ok", At: at(1).In(time.FixedZone("X", -3600)).Add(700_000)},
	}
	for _, a := range added {
		must(t, "AddApproval "+a.By, s.AddApproval(ctx, a))
	}
	added[3].At = at(1)
	got, err := s.Approvals(ctx, snap, "prod")
	must(t, "Approvals", err)
	equal(t, "Approvals", got, choose(added, 3, 1, 0, 2))
}

func testApprovalDefaultTime(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := time.Now()
	must(t, "AddApproval", s.AddApproval(ctx, store.Approval{Snapshot: hexOf("a"), Env: "prod", By: "alice"}))
	after := time.Now()
	got, err := s.Approvals(ctx, hexOf("a"), "prod")
	must(t, "Approvals", err)
	if len(got) != 1 {
		t.Fatalf("Approvals: %d, want 1", len(got))
	}
	within(t, "AddApproval set At", got[0].At, before, after)
	equal(t, "Approvals", got, []store.Approval{{Snapshot: hexOf("a"), Env: "prod", By: "alice", At: got[0].At}})
}

// testApprovalConcurrent: the same identity approving from 8 goroutines at
// once is recorded once; the others are ErrConflict.
func testApprovalConcurrent(t *testing.T, s store.Store) {
	const workers = 8
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		ok, confl int
	)
	for i := range workers {
		wg.Go(func() {
			err := s.AddApproval(t.Context(), store.Approval{Snapshot: hexOf("a"), Env: "prod", By: "alice",
				Comment: fmt.Sprint(i), At: at(i)})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrConflict):
				confl++
			default:
				t.Errorf("AddApproval %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	equal(t, "successful AddApproval calls", ok, 1)
	equal(t, "ErrConflict AddApproval calls", confl, workers-1)
	got, err := s.Approvals(t.Context(), hexOf("a"), "prod")
	must(t, "Approvals", err)
	equal(t, "approvals recorded", len(got), 1)
}

func testJobList(t *testing.T, s store.Store) {
	ctx := t.Context()
	job := func(env, site, name, outcome string, sec int) store.JobRun {
		return store.JobRun{Env: env, Site: site, Job: name, Snapshot: hexOf("snap " + env),
			Digest: digest(name), Outcome: outcome, At: at(sec)}
	}
	runs := []store.JobRun{
		job("prod", "eu-1", "migrate", "succeeded", 10),   // 0
		job("staging", "eu-1", "migrate", "failed", 5),    // 1
		job("prod", "us-1", "migrate", "succeeded", 30),   // 2
		job("staging", "eu-1", "migrate", "succeeded", 6), // 3
		job("prod", "eu-1", "seed", "succeeded", 20),      // 4
		job("prod", "us-1", "seed", "failed", 30),         // 5: same At as 2, recorded later
	}
	// Given with a zone and below a millisecond: stored as UTC ms.
	zoned := runs[4]
	zoned.At = zoned.At.In(time.FixedZone("X", 3600)).Add(123_456)
	for i, j := range runs {
		if i == 4 {
			j = zoned
		}
		must(t, "RecordJob "+j.Job, s.RecordJob(ctx, j))
	}
	cases := []struct {
		name  string
		env   string
		limit int
		want  []store.JobRun
	}{
		{"All", "", 0, choose(runs, 5, 2, 4, 0, 3, 1)},
		{"Env", "prod", 0, choose(runs, 5, 2, 4, 0)},
		{"OtherEnv", "staging", 0, choose(runs, 3, 1)},
		{"Limit", "", 2, choose(runs, 5, 2)},
		{"EnvLimit", "staging", 1, choose(runs, 3)},
		{"LimitAboveCount", "staging", 10, choose(runs, 3, 1)},
		{"NegativeLimit", "prod", -1, choose(runs, 5, 2, 4, 0)},
		{"NoMatch", "qa", 0, nil},
	}
	for _, tc := range cases {
		got, err := s.ListJobs(ctx, tc.env, tc.limit)
		must(t, "ListJobs "+tc.name, err)
		equalList(t, "ListJobs "+tc.name, got, tc.want)
	}
}

func testJobDefaultTime(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := time.Now()
	must(t, "RecordJob", s.RecordJob(ctx, store.JobRun{Env: "dev", Site: "local", Job: "seed", Outcome: "succeeded"}))
	after := time.Now()
	got, err := s.ListJobs(ctx, "dev", 0)
	must(t, "ListJobs", err)
	if len(got) != 1 {
		t.Fatalf("ListJobs: %d, want 1", len(got))
	}
	within(t, "RecordJob set At", got[0].At, before, after)
	equal(t, "ListJobs", got, []store.JobRun{{Env: "dev", Site: "local", Job: "seed", Outcome: "succeeded", At: got[0].At}})
}
