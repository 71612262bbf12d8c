package storetest

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

var snapshotTests = []test{
	{"RoundTrip", testSnapshotRoundTrip},
	{"PutIsIdempotent", testSnapshotIdempotent},
	{"ConflictingContent", testSnapshotConflict},
	{"PrefixLookup", testSnapshotPrefix},
	{"ListNewestFirst", testSnapshotList},
	{"CollectKeepsNewestAndReferenced", testSnapshotCollect},
}

var artifactTests = []test{
	{"PutLookup", testArtifactPutLookup},
	{"RePut", testArtifactRePut},
}

// newSnap builds a snapshot of stack with one artifact per service, its ID
// computed from its content.
func newSnap(stack, revision string, created time.Time, services ...string) *snapshot.Snapshot {
	arts := map[string]snapshot.Artifact{}
	for _, svc := range services {
		arts[svc] = snapshot.Artifact{
			Service: svc, Digest: digest(stack + "/" + svc), Builder: "go",
			Inputs: hexOf("inputs " + stack + "/" + svc), Size: int64(1000 + len(svc)),
		}
	}
	return snapshot.New(stack, hexOf("def "+stack), arts, revision, created)
}

// withID returns a snapshot carrying an arbitrary ID, for tests that need
// IDs sharing a prefix. Stores record snapshots; verifying that an ID
// matches its content is the deployer's job (snapshot.Verify).
func withID(id string, created time.Time) *snapshot.Snapshot {
	s := newSnap("stack-"+id[:8], "", created, "api")
	s.ID = id
	return s
}

func clone(s *snapshot.Snapshot) *snapshot.Snapshot {
	c := *s
	c.Artifacts = maps.Clone(s.Artifacts)
	return &c
}

func testSnapshotRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Built by hand so Created is neither UTC nor millisecond-aligned.
	in := &snapshot.Snapshot{
		Stack:     "shop",
		StackHash: hexOf("def shop"),
		Artifacts: map[string]snapshot.Artifact{
			"api": {Service: "api", Digest: digest("api"), Builder: "go", Inputs: hexOf("in api"), Size: 12345678},
			"web": {Service: "web", Digest: digest("web"), Builder: "dockerfile", Inputs: hexOf("in web"), Size: 42},
		},
		Revision: "0123abcd-dirty",
		Created:  time.Date(2025, 3, 14, 10, 26, 53, 589_793_238, time.FixedZone("CET", 3600)),
	}
	in.ID = in.ComputeID()
	want := clone(in)
	want.Created = time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

	created, err := s.PutSnapshot(ctx, in)
	must(t, "PutSnapshot", err)
	if !created {
		t.Errorf("PutSnapshot of a new snapshot: created = false, want true")
	}
	for _, key := range []string{in.ID, in.ID[:snapshot.ShortLen], in.ID[:4]} {
		got, err := s.GetSnapshot(ctx, key)
		must(t, "GetSnapshot "+key, err)
		equal(t, "GetSnapshot "+key, got, want)
	}
	list, err := s.ListSnapshots(ctx, store.SnapshotFilter{})
	must(t, "ListSnapshots", err)
	equal(t, "ListSnapshots", list, []*snapshot.Snapshot{want})
}

func testSnapshotIdempotent(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := newSnap("shop", "rev-1", at(0), "api", "web")
	created, err := s.PutSnapshot(ctx, clone(first))
	must(t, "PutSnapshot first", err)
	if !created {
		t.Errorf("first PutSnapshot: created = false, want true")
	}

	// Same identity (stack, stack hash, service digests) from a later
	// commit that changed no build output: provenance differs, ID does not.
	again := clone(first)
	again.Revision = "rev-2"
	again.Created = at(60)
	api := again.Artifacts["api"]
	api.Inputs = hexOf("comment-only change")
	api.Builder = "dockerfile"
	again.Artifacts["api"] = api
	if again.ComputeID() != first.ID {
		t.Fatal("test bug: provenance changed the ID")
	}
	for i := range 2 {
		created, err := s.PutSnapshot(ctx, again)
		must(t, "PutSnapshot again", err)
		if created {
			t.Errorf("PutSnapshot #%d of a known snapshot: created = true, want false", i+2)
		}
	}
	got, err := s.GetSnapshot(ctx, first.ID)
	must(t, "GetSnapshot", err)
	equal(t, "GetSnapshot after re-put (first record kept)", got, first)
	list, err := s.ListSnapshots(ctx, store.SnapshotFilter{})
	must(t, "ListSnapshots", err)
	if len(list) != 1 {
		t.Errorf("ListSnapshots: %d snapshots, want 1", len(list))
	}
}

func testSnapshotConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := newSnap("shop", "rev-1", at(0), "api", "web")
	_, err := s.PutSnapshot(ctx, clone(orig))
	must(t, "PutSnapshot", err)

	cases := []struct {
		name   string
		mutate func(*snapshot.Snapshot)
	}{
		{"StackHash", func(x *snapshot.Snapshot) { x.StackHash = hexOf("other definition") }},
		{"Stack", func(x *snapshot.Snapshot) { x.Stack = "other" }},
		{"ArtifactDigest", func(x *snapshot.Snapshot) {
			a := x.Artifacts["web"]
			a.Digest = digest("rebuilt web")
			x.Artifacts["web"] = a
		}},
		{"ExtraArtifact", func(x *snapshot.Snapshot) {
			x.Artifacts["db"] = snapshot.Artifact{Service: "db", Digest: digest("db")}
		}},
		{"MissingArtifact", func(x *snapshot.Snapshot) { delete(x.Artifacts, "api") }},
		{"PinnedImage", func(x *snapshot.Snapshot) {
			a := x.Artifacts["web"]
			a.Image = "registry.example/web@" + a.Digest
			x.Artifacts["web"] = a
		}},
	}
	for _, tc := range cases {
		x := clone(orig)
		tc.mutate(x) // x keeps orig's ID: the content no longer matches it
		created, err := s.PutSnapshot(ctx, x)
		isErr(t, "PutSnapshot with different "+tc.name, err, store.ErrConflict)
		if created {
			t.Errorf("PutSnapshot with different %s: created = true", tc.name)
		}
	}
	got, err := s.GetSnapshot(ctx, orig.ID)
	must(t, "GetSnapshot", err)
	equal(t, "GetSnapshot after conflicts", got, orig)
}

func testSnapshotPrefix(t *testing.T, s store.Store) {
	ctx := t.Context()
	idA := "abcd1" + strings.Repeat("0", 59)
	idB := "abcd2" + strings.Repeat("0", 59)
	idC := "abce" + strings.Repeat("f", 60)
	for i, id := range []string{idA, idB, idC} {
		_, err := s.PutSnapshot(ctx, withID(id, at(i)))
		must(t, "PutSnapshot "+id, err)
	}
	cases := []struct {
		key     string
		wantID  string
		wantErr error
	}{
		{idA, idA, nil},
		{idB, idB, nil},
		{"abcd1", idA, nil},
		{"abcd2000", idB, nil},
		{"abce", idC, nil},
		{"abcd", "", store.ErrAmbiguous},
		{"abcd0", "", store.ErrNotFound},
		{"0000", "", store.ErrNotFound},
		{"ffff", "", store.ErrNotFound},
		{idA[:63] + "1", "", store.ErrNotFound},
		{"abc", "", store.ErrNotFound},         // too short, though it matches
		{"a", "", store.ErrNotFound},           // too short
		{"", "", store.ErrNotFound},            // empty
		{"abcg", "", store.ErrNotFound},        // not hex
		{"abc%", "", store.ErrNotFound},        // SQL wildcard
		{"abc_", "", store.ErrNotFound},        // SQL wildcard
		{"abcd1 ", "", store.ErrNotFound},      // trailing space
		{"sha256:abcd", "", store.ErrNotFound}, // digest form
		{idA + "0", "", store.ErrNotFound},     // longer than an ID
	}
	for _, tc := range cases {
		got, err := s.GetSnapshot(ctx, tc.key)
		if tc.wantErr != nil {
			isErr(t, "GetSnapshot "+tc.key, err, tc.wantErr)
			if got != nil {
				t.Errorf("GetSnapshot %q: got %v with error", tc.key, got.ID)
			}
			continue
		}
		if err != nil {
			t.Errorf("GetSnapshot %q: %v", tc.key, err)
			continue
		}
		if got.ID != tc.wantID {
			t.Errorf("GetSnapshot %q: ID %s, want %s", tc.key, got.ID, tc.wantID)
		}
	}
}

func testSnapshotList(t *testing.T, s store.Store) {
	ctx := t.Context()
	empty, err := s.ListSnapshots(ctx, store.SnapshotFilter{})
	must(t, "ListSnapshots on empty store", err)
	if len(empty) != 0 {
		t.Errorf("ListSnapshots on empty store: %d snapshots", len(empty))
	}

	// Newest means latest Created, the greater ID breaking a tie. The
	// order is chosen to differ from ID order (either way) and from
	// recording order (either way).
	byID := []*snapshot.Snapshot{newSnap("one", "r1", at(0), "api"),
		newSnap("two", "r2", at(0), "api"), newSnap("three", "r3", at(0), "api"),
		newSnap("four", "r4", at(0), "api")}
	slices.SortFunc(byID, func(a, b *snapshot.Snapshot) int { return strings.Compare(a.ID, b.ID) })
	s3, s2, s1, tie := byID[1], byID[3], byID[0], byID[2] // s3 newest; tie and s2 made at once
	s1.Created, s2.Created, s3.Created, tie.Created = at(10), at(20), at(30), at(20)
	for _, x := range []*snapshot.Snapshot{s2, tie, s1, s3} {
		_, err := s.PutSnapshot(ctx, clone(x))
		must(t, "PutSnapshot "+x.Stack, err)
	}
	all := []*snapshot.Snapshot{s3, s2, tie, s1} // s2's ID is greater than tie's
	cases := []struct {
		limit  int
		before *snapshot.Snapshot
		want   []*snapshot.Snapshot
	}{
		{0, nil, all},
		{-1, nil, all},
		{1, nil, all[:1]},
		{2, nil, all[:2]},
		{4, nil, all},
		{10, nil, all},
		{0, s3, all[1:]},
		{1, s3, all[1:2]},
		{1, s2, all[2:3]}, // the tie: same Created, smaller ID
		{2, s2, all[2:]},
		{0, tie, all[3:]},
		{0, s1, nil},
	}
	for _, tc := range cases {
		f := store.SnapshotFilter{Limit: tc.limit}
		name := "ListSnapshots limit " + itoa(tc.limit)
		if tc.before != nil {
			f.Before = tc.before.ID
			name += " before " + tc.before.Stack
		}
		got, err := s.ListSnapshots(ctx, f)
		must(t, name, err)
		equal(t, name, got, tc.want)
	}

	// Paging through with the last ID of each page reads each snapshot
	// once, in order.
	var paged []*snapshot.Snapshot
	before := ""
	for range len(all) + 1 {
		page, err := s.ListSnapshots(ctx, store.SnapshotFilter{Limit: 3, Before: before})
		must(t, "ListSnapshots page", err)
		paged = append(paged, page...)
		if len(page) < 3 {
			break
		}
		before = page[len(page)-1].ID
	}
	equal(t, "ListSnapshots pages of 3", paged, all)

	_, err = s.ListSnapshots(ctx, store.SnapshotFilter{Before: strings.Repeat("0", 64)})
	isErr(t, "ListSnapshots before an unknown snapshot", err, store.ErrNotFound)
}

func testArtifactPutLookup(t *testing.T, s store.Store) {
	ctx := t.Context()
	arts := []snapshot.Artifact{
		{Service: "api", Digest: digest("api 1"), Builder: "go", Inputs: hexOf("i1"), Size: 100},
		{Service: "api", Digest: digest("api 2"), Builder: "go", Inputs: hexOf("i2"), Size: 200},
		{Service: "web", Digest: digest("web 1"), Builder: "dockerfile", Inputs: hexOf("i1"), Size: 300},
	}
	for _, a := range arts {
		must(t, "PutArtifact", s.PutArtifact(ctx, a))
	}
	for _, a := range arts {
		got, err := s.LookupArtifact(ctx, a.Service, a.Inputs)
		must(t, "LookupArtifact "+a.Service, err)
		equal(t, "LookupArtifact "+a.Service, got, a)
	}
	for _, k := range [][2]string{{"api", hexOf("i3")}, {"db", hexOf("i1")}, {"", ""}} {
		_, err := s.LookupArtifact(ctx, k[0], k[1])
		isErr(t, "LookupArtifact "+k[0]+" "+k[1], err, store.ErrNotFound)
	}
}

func testArtifactRePut(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := snapshot.Artifact{Service: "api", Digest: digest("api 1"), Builder: "go", Inputs: hexOf("i1"), Size: 100}
	for range 3 {
		must(t, "PutArtifact", s.PutArtifact(ctx, a))
	}
	got, err := s.LookupArtifact(ctx, "api", a.Inputs)
	must(t, "LookupArtifact", err)
	equal(t, "LookupArtifact after re-put", got, a)

	// A non-reproducible rebuild from the same inputs: the last build wins.
	b := a
	b.Digest, b.Size = digest("api 1 rebuilt"), 101
	must(t, "PutArtifact rebuilt", s.PutArtifact(ctx, b))
	got, err = s.LookupArtifact(ctx, "api", a.Inputs)
	must(t, "LookupArtifact", err)
	equal(t, "LookupArtifact after rebuild", got, b)
}

// testSnapshotCollect: CollectSnapshots deletes a stack's snapshots beyond
// the newest keep with the throwaway environment's releases of them, but
// none another environment released, and nothing of other stacks.
func testSnapshotCollect(t *testing.T, s store.Store) {
	ctx := t.Context()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var shop []*snapshot.Snapshot
	for i := range 5 {
		snap := newSnap("shop", "rev", base.Add(time.Duration(i)*time.Minute), "api", strings.Repeat("v", i+1))
		if _, err := s.PutSnapshot(ctx, snap); err != nil {
			t.Fatal(err)
		}
		shop = append(shop, snap)
	}
	other := newSnap("other", "rev", base.Add(-time.Hour), "api")
	if _, err := s.PutSnapshot(ctx, other); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRelease(ctx, store.Release{Env: "dev", Site: "default", Snapshot: shop[0].ID, Phase: store.PhaseSucceeded, Started: base}); err != nil {
		t.Fatal(err)
	}
	for _, snap := range shop {
		// Each release ends as real ones do, through a recorded phase
		// transition, which collection removes with the release.
		rel, err := s.CreateRelease(ctx, store.Release{Env: "local", Site: "default", Snapshot: snap.ID, Phase: store.PhaseProgressing, Started: base})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AdvanceRelease(ctx, rel.ID, store.PhaseProgressing, store.PhaseSucceeded, "healthy", base); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.CollectSnapshots(ctx, "shop", "local", 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{shop[1].ID, shop[2].ID}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("CollectSnapshots(shop, 2) = %v, want %v", got, want)
	}
	for i, snap := range shop {
		_, err := s.GetSnapshot(ctx, snap.ID)
		gone := i == 1 || i == 2
		if gone != errors.Is(err, store.ErrNotFound) {
			t.Errorf("snapshot %d after collection: err = %v, want gone = %v", i, err, gone)
		}
	}
	if _, err := s.GetSnapshot(ctx, other.ID); err != nil {
		t.Errorf("another stack's snapshot was collected: %v", err)
	}
	rels, err := s.ListReleases(ctx, store.ReleaseFilter{Env: "local"})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, r := range rels {
		left = append(left, r.Snapshot)
	}
	slices.Sort(left)
	wantLeft := []string{shop[0].ID, shop[3].ID, shop[4].ID}
	slices.Sort(wantLeft)
	if !slices.Equal(left, wantLeft) {
		t.Errorf("local's releases after collection are of %v, want %v", left, wantLeft)
	}
	if got, err := s.CollectSnapshots(ctx, "shop", "local", 2); err != nil || len(got) != 0 {
		t.Errorf("second collection = %v, %v; want nothing", got, err)
	}
	if _, err := s.CollectSnapshots(ctx, "shop", "local", 0); err == nil {
		t.Error("CollectSnapshots with keep 0 succeeded")
	}
}
