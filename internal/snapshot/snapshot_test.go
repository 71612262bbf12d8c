package snapshot

import (
	"strings"
	"testing"
	"time"
)

// Fixed digests: 64 lowercase hex digits each.
var (
	digestA = "sha256:" + strings.Repeat("a", 64)
	digestB = "sha256:" + strings.Repeat("b", 64)
	digestC = "sha256:" + strings.Repeat("c", 64)
	digestD = "sha256:" + strings.Repeat("0123456789abcdef", 4)
)

const fixedStackHash = "5f0c6e2a1d0b9c8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e"

var fixedCreated = time.Date(2025, 3, 14, 15, 9, 26, 535_897_932, time.UTC)

// fixedArtifacts returns a fresh copy of the reference artifacts, so a test
// can alter its copy freely.
func fixedArtifacts() map[string]Artifact {
	return map[string]Artifact{
		"notifications": {Service: "notifications", Digest: digestA, Builder: "go", Inputs: "i1", Size: 100},
		"trades":        {Service: "trades", Digest: digestB, Builder: "go", Inputs: "i2", Size: 200},
		"users":         {Service: "users", Digest: digestC, Builder: "go", Inputs: "i3", Size: 300},
		"web":           {Service: "web", Digest: digestD, Builder: "dockerfile", Inputs: "i4", Size: 400},
	}
}

func fixed() *Snapshot {
	return New("trading", fixedStackHash, fixedArtifacts(), "0123abcd", fixedCreated)
}

// goldenID is the ID of fixed(). Changing it changes the ID of every
// snapshot already stored anywhere: a stored snapshot would no longer
// verify, and building the same sources would make a "new" snapshot. Only
// change it together with a deliberate migration of the identity format.
// It was cross-checked outside Go: it is the sha256 of
// {"stack":"trading","stackHash":"5f0c…","artifacts":[{"service":"notifications","digest":"sha256:aaa…"},…]}
// with the artifacts sorted by service and no whitespace.
const goldenID = "9fee4c3222b3eb5597605b1211ab6187697caf1d6ce51e7924f49d4e015c5357"

func TestGoldenID(t *testing.T) {
	if got := fixed().ID; got != goldenID {
		t.Fatalf("ID of the fixed snapshot = %s, want %s: the identity encoding changed, which breaks every stored snapshot ID", got, goldenID)
	}
}

func TestNew(t *testing.T) {
	s := fixed()
	if s.Stack != "trading" || s.StackHash != fixedStackHash || s.Revision != "0123abcd" {
		t.Errorf("New kept stack=%q hash=%q revision=%q", s.Stack, s.StackHash, s.Revision)
	}
	// Created is UTC, truncated to the millisecond (what the store keeps).
	want := time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	if !s.Created.Equal(want) || s.Created.Location() != time.UTC {
		t.Errorf("Created = %v, want %v (UTC)", s.Created, want)
	}
	local := time.FixedZone("X", 5*3600)
	s2 := New("trading", fixedStackHash, fixedArtifacts(), "", fixedCreated.In(local))
	if !s2.Created.Equal(want) || s2.Created.Location() != time.UTC {
		t.Errorf("Created from a zoned time = %v, want %v (UTC)", s2.Created, want)
	}
	if s.ID != s.ComputeID() {
		t.Errorf("ID %s != ComputeID() %s", s.ID, s.ComputeID())
	}
	if err := s.Verify(); err != nil {
		t.Errorf("Verify of a fresh snapshot: %v", err)
	}
	if got, want := strings.Join(s.Services(), ","), "notifications,trades,users,web"; got != want {
		t.Errorf("Services() = %s, want %s", got, want)
	}
}

func TestIDIsStable(t *testing.T) {
	base := fixed().ID
	tests := []struct {
		name string
		snap func() *Snapshot
	}{
		{"same input again", fixed},
		{"map built in another order", func() *Snapshot {
			arts := map[string]Artifact{}
			src := fixedArtifacts()
			for _, k := range []string{"web", "users", "trades", "notifications"} {
				arts[k] = src[k]
			}
			return New("trading", fixedStackHash, arts, "0123abcd", fixedCreated)
		}},
		{"other revision", func() *Snapshot {
			return New("trading", fixedStackHash, fixedArtifacts(), "ffff-dirty", fixedCreated)
		}},
		{"no revision", func() *Snapshot {
			return New("trading", fixedStackHash, fixedArtifacts(), "", fixedCreated)
		}},
		{"other creation time", func() *Snapshot {
			return New("trading", fixedStackHash, fixedArtifacts(), "0123abcd", time.Now())
		}},
		{"other builder, inputs and size", func() *Snapshot {
			arts := fixedArtifacts()
			for k, a := range arts {
				a.Builder, a.Inputs, a.Size = "other", "other-inputs", 1
				arts[k] = a
			}
			return New("trading", fixedStackHash, arts, "0123abcd", fixedCreated)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.snap()
			if s.ID != base {
				t.Errorf("ID = %s, want %s", s.ID, base)
			}
			if err := s.Verify(); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
	// Map iteration order is random: many computations must all agree.
	s := fixed()
	for range 50 {
		if got := s.ComputeID(); got != base {
			t.Fatalf("ComputeID = %s, want %s", got, base)
		}
	}
}

func TestIDChanges(t *testing.T) {
	base := fixed().ID
	with := func(f func(arts map[string]Artifact)) map[string]Artifact {
		arts := fixedArtifacts()
		f(arts)
		return arts
	}
	tests := []struct {
		name string
		snap *Snapshot
	}{
		{"one digest changed", New("trading", fixedStackHash, with(func(a map[string]Artifact) {
			w := a["web"]
			w.Digest = digestA
			a["web"] = w
		}), "0123abcd", fixedCreated)},
		{"digests swapped between services", New("trading", fixedStackHash, with(func(a map[string]Artifact) {
			u, tr := a["users"], a["trades"]
			u.Digest, tr.Digest = tr.Digest, u.Digest
			a["users"], a["trades"] = u, tr
		}), "0123abcd", fixedCreated)},
		{"service added", New("trading", fixedStackHash, with(func(a map[string]Artifact) {
			a["audit"] = Artifact{Service: "audit", Digest: digestA}
		}), "0123abcd", fixedCreated)},
		{"service removed", New("trading", fixedStackHash, with(func(a map[string]Artifact) {
			delete(a, "web")
		}), "0123abcd", fixedCreated)},
		{"service renamed", New("trading", fixedStackHash, with(func(a map[string]Artifact) {
			w := a["web"]
			delete(a, "web")
			w.Service = "www"
			a["www"] = w
		}), "0123abcd", fixedCreated)},
		{"stack name", New("trading2", fixedStackHash, fixedArtifacts(), "0123abcd", fixedCreated)},
		{"stack hash", New("trading", strings.Replace(fixedStackHash, "5f", "5e", 1), fixedArtifacts(), "0123abcd", fixedCreated)},
		{"empty stack hash", New("trading", "", fixedArtifacts(), "0123abcd", fixedCreated)},
		{"no artifacts", New("trading", fixedStackHash, nil, "0123abcd", fixedCreated)},
	}
	seen := map[string]string{base: "base"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.snap.ID == base {
				t.Fatalf("ID did not change: %s", tt.snap.ID)
			}
			if !ValidID(tt.snap.ID) {
				t.Errorf("ID %q is not 64 lowercase hex digits", tt.snap.ID)
			}
			if other, dup := seen[tt.snap.ID]; dup {
				t.Errorf("ID %s equals the ID of case %q", tt.snap.ID, other)
			}
			seen[tt.snap.ID] = tt.name
		})
	}
}

// The identity is not a plain concatenation: moving text between the stack
// name and the stack hash must change the ID.
func TestIDFieldBoundaries(t *testing.T) {
	a := New("ab", "c", nil, "", fixedCreated)
	b := New("a", "bc", nil, "", fixedCreated)
	if a.ID == b.ID {
		t.Fatalf("stack %q hash %q and stack %q hash %q share ID %s", a.Stack, a.StackHash, b.Stack, b.StackHash, a.ID)
	}
}

func TestIDFormat(t *testing.T) {
	for _, s := range []*Snapshot{fixed(), New("", "", nil, "", time.Time{})} {
		if len(s.ID) != 64 {
			t.Errorf("len(ID) = %d, want 64", len(s.ID))
		}
		for _, c := range s.ID {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				t.Errorf("ID %q has %q, want only lowercase hex", s.ID, c)
				break
			}
		}
	}
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name string
		// alter changes a valid snapshot after it was made.
		alter   func(s *Snapshot)
		wantErr string // substring; empty means Verify succeeds
	}{
		{"untouched", func(s *Snapshot) {}, ""},
		{"revision changed (provenance only)", func(s *Snapshot) { s.Revision = "other" }, ""},
		{"created changed (provenance only)", func(s *Snapshot) { s.Created = time.Now() }, ""},
		{"size changed (not identity)", func(s *Snapshot) {
			a := s.Artifacts["web"]
			a.Size = 1
			s.Artifacts["web"] = a
		}, ""},
		{"tampered digest", func(s *Snapshot) {
			a := s.Artifacts["users"]
			a.Digest = digestA
			s.Artifacts["users"] = a
		}, "content does not match its ID"},
		{"tampered ID", func(s *Snapshot) { s.ID = strings.Repeat("0", 64) }, "snapshot 000000000000: content does not match its ID (computed " + goldenID[:12] + "): the record was altered"},
		{"ID truncated", func(s *Snapshot) { s.ID = s.ID[:12] }, "content does not match its ID"},
		{"tampered stack", func(s *Snapshot) { s.Stack = "evil" }, "content does not match its ID"},
		{"tampered stack hash", func(s *Snapshot) { s.StackHash = "" }, "content does not match its ID"},
		{"artifact added", func(s *Snapshot) {
			s.Artifacts["evil"] = Artifact{Service: "evil", Digest: digestA}
		}, "content does not match its ID"},
		{"artifact removed", func(s *Snapshot) { delete(s.Artifacts, "trades") }, "content does not match its ID"},
		{"artifact names another service", func(s *Snapshot) {
			a := s.Artifacts["web"]
			a.Service = "users"
			s.Artifacts["web"] = a
		}, `snapshot ` + goldenID[:12] + `: artifact for "web" names service "users"`},
		{"malformed digest, ID recomputed", func(s *Snapshot) {
			a := s.Artifacts["trades"]
			a.Digest = "sha256:XYZ"
			s.Artifacts["trades"] = a
			s.ID = s.ComputeID()
		}, `service "trades" has malformed digest "sha256:XYZ"`},
		{"digest without algorithm, ID recomputed", func(s *Snapshot) {
			a := s.Artifacts["trades"]
			a.Digest = strings.Repeat("b", 64)
			s.Artifacts["trades"] = a
			s.ID = s.ComputeID()
		}, `service "trades" has malformed digest`},
		{"uppercase digest, ID recomputed", func(s *Snapshot) {
			a := s.Artifacts["trades"]
			a.Digest = "sha256:" + strings.Repeat("B", 64)
			s.Artifacts["trades"] = a
			s.ID = s.ComputeID()
		}, `service "trades" has malformed digest`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fixed()
			tt.alter(s)
			err := s.Verify()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Verify: %v, want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("Verify = nil, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("Verify = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestShort(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"abc", "abc"},
		{"0123456789ab", "0123456789ab"},
		{"0123456789abc", "0123456789ab"},
		{goldenID, goldenID[:ShortLen]},
		{digestD, "0123456789ab"},
		{"sha256:", ""},
		{"sha256:abc", "abc"},
		{"sha512:" + strings.Repeat("f", 64), "sha512:fffff"},
	}
	for _, tt := range tests {
		if got := Short(tt.in); got != tt.want {
			t.Errorf("Short(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestValidDigest(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		in   string
		want bool
	}{
		{"sha256:" + hex64, true},
		{"sha256:" + strings.Repeat("f", 64), true},
		{"", false},
		{"sha256:", false},
		{hex64, false},
		{"sha256:" + hex64[:63], false},
		{"sha256:" + hex64 + "0", false},
		{"sha256:" + strings.ToUpper(hex64), false},
		{"SHA256:" + hex64, false},
		{"sha512:" + hex64, false},
		{"sha256:" + hex64[:63] + "g", false},
		{" sha256:" + hex64, false},
		{"sha256:" + hex64 + "\n", false},
		{"sha256:sha256:" + hex64[:57], false},
	}
	for _, tt := range tests {
		if got := ValidDigest(tt.in); got != tt.want {
			t.Errorf("ValidDigest(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{goldenID, true},
		{strings.Repeat("0", 64), true},
		{"", false},
		{goldenID[:63], false},
		{goldenID + "0", false},
		{strings.ToUpper(goldenID), false},
		{"sha256:" + goldenID[:57], false},
		{strings.Repeat("g", 64), false},
		{strings.Repeat("é", 32), false}, // 64 bytes, not hex
		{strings.Repeat(" ", 64), false},
	}
	for _, tt := range tests {
		if got := ValidID(tt.in); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestValidPrefix(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", false},
		{"a", false},
		{"abc", false},
		{"abcd", true},
		{"0000", true},
		{goldenID[:12], true},
		{goldenID, true},
		{goldenID + "0", false},
		{"ABCD", false},
		{"abcg", false},
		{"ab-d", false},
		{"sha256:abcd", false},
		{"abcd ", false},
	}
	for _, tt := range tests {
		if got := ValidPrefix(tt.in); got != tt.want {
			t.Errorf("ValidPrefix(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// A pinned image (an image service's repository@digest) is part of the
// identity: the same bytes pinned from another repository are another
// snapshot. Built artifacts carry no Image, so their IDs are unchanged
// (TestGoldenID).
func TestPinnedImageIsPartOfTheID(t *testing.T) {
	arts := fixedArtifacts()
	arts["db"] = Artifact{Service: "db", Digest: digestA, Builder: "registry", Inputs: "image:docker.io/library/postgres:15", Image: "docker.io/library/postgres@" + digestA}
	a := New("trading", fixedStackHash, arts, "", fixedCreated)
	arts2 := fixedArtifacts()
	arts2["db"] = Artifact{Service: "db", Digest: digestA, Builder: "registry", Image: "registry.example.com/postgres@" + digestA}
	b := New("trading", fixedStackHash, arts2, "", fixedCreated)
	if a.ID == b.ID {
		t.Error("pinning the same digest from another repository gave the same ID")
	}
	if err := a.Verify(); err != nil {
		t.Errorf("Verify: %v", err)
	}
	// An Image that does not pin the artifact's digest is refused.
	bad := fixedArtifacts()
	bad["db"] = Artifact{Service: "db", Digest: digestA, Image: "docker.io/library/postgres@" + digestB}
	if err := New("trading", fixedStackHash, bad, "", fixedCreated).Verify(); err == nil || !strings.Contains(err.Error(), "pins image") {
		t.Errorf("Verify of a mismatched pin: %v", err)
	}
}
