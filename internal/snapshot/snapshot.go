package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ShortLen is how many hex digits of an ID are shown to people.
const ShortLen = 12

// Artifact is one built service, identified by its content digest.
type Artifact struct {
	// Service is the stack service this artifact was built for.
	Service string `json:"service"`
	// Digest is the OCI image manifest digest, "sha256:<hex>".
	Digest string `json:"digest"`
	// Builder names how the artifact was made ("go", "dockerfile").
	Builder string `json:"builder"`
	// Inputs is the hash of everything the build read; equal inputs mean
	// the build is skipped and the cached digest reused.
	Inputs string `json:"inputs"`
	// Size is the total size in bytes of the image's layers.
	Size int64 `json:"size"`
	// Image is set for a service that runs an image it does not build
	// (Compose `image:`): the image's repository pinned to the artifact,
	// "docker.io/library/postgres@sha256:<Digest hex>". The tag it was
	// resolved from is in Inputs ("image:docker.io/library/postgres:15").
	Image string `json:"image,omitempty"`
	// Bases are the images a Dockerfile artifact was built on, each by
	// digest: provenance, not identity (the inputs hash covers them).
	Bases []BaseImage `json:"bases,omitempty"`
}

// BaseImage is an image a Dockerfile build took from outside: its FROM
// image, or one it copies or mounts from.
type BaseImage struct {
	// Ref is the image as the Dockerfile names it ("debian:bookworm").
	Ref string `json:"ref"`
	// ID is the image ID, the digest of its config: what was built on.
	ID string `json:"id"`
	// Digest is the image's manifest digest in the registry it came from
	// (pull it as NAME@DIGEST), when the engine knows it.
	Digest string `json:"digest,omitempty"`
}

// Snapshot is an immutable record of a stack at one point in its life.
type Snapshot struct {
	// ID is the hex SHA-256 of the snapshot's identity (see ComputeID).
	ID string `json:"id"`
	// Stack is the stack (Compose project) name.
	Stack string `json:"stack"`
	// StackHash is the hash of the canonical stack definition.
	StackHash string `json:"stackHash"`
	// Artifacts maps service name to its artifact.
	Artifacts map[string]Artifact `json:"artifacts"`
	// Revision is the source revision the snapshot was first made from
	// (a git commit, suffixed "-dirty" for uncommitted changes), or empty.
	// It is provenance, not identity: a commit that changes no build input
	// and no definition does not make a new snapshot.
	Revision string `json:"revision,omitempty"`
	// Created is when the snapshot was first recorded.
	Created time.Time `json:"created"`
}

// identity is the part of a snapshot its ID is computed from. Its JSON
// encoding is canonical: struct fields in fixed order and artifacts sorted.
type identity struct {
	Stack     string        `json:"stack"`
	StackHash string        `json:"stackHash"`
	Artifacts []identityArt `json:"artifacts"`
}

type identityArt struct {
	Service string `json:"service"`
	Digest  string `json:"digest"`
	// Image is left out when empty, so the IDs of snapshots of built
	// services are what they were before images were pinned.
	Image string `json:"image,omitempty"`
}

// New builds a snapshot from its parts and computes its ID.
func New(stack, stackHash string, artifacts map[string]Artifact, revision string, created time.Time) *Snapshot {
	s := &Snapshot{
		Stack:     stack,
		StackHash: stackHash,
		Artifacts: artifacts,
		Revision:  revision,
		Created:   created.UTC().Truncate(time.Millisecond),
	}
	s.ID = s.ComputeID()
	return s
}

// ComputeID returns the content-derived ID of s: the same stack definition
// and the same artifact digests always give the same ID.
func (s *Snapshot) ComputeID() string {
	id := identity{Stack: s.Stack, StackHash: s.StackHash}
	for _, name := range s.Services() {
		id.Artifacts = append(id.Artifacts, identityArt{Service: name, Digest: s.Artifacts[name].Digest, Image: s.Artifacts[name].Image})
	}
	b, err := json.Marshal(id)
	if err != nil {
		// identity holds only strings; Marshal cannot fail.
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// SameIdentity reports whether a and b agree on everything a snapshot ID
// is computed from, whatever IDs they carry: two records of one snapshot
// may differ in provenance (revision, time), never in identity.
func SameIdentity(a, b *Snapshot) bool { return a.ComputeID() == b.ComputeID() }

// Verify reports whether the snapshot's ID matches its content, so a record
// altered after it was made is caught before it is deployed.
func (s *Snapshot) Verify() error {
	if got := s.ComputeID(); got != s.ID {
		return fmt.Errorf("snapshot %s: content does not match its ID (computed %s): the record was altered", Short(s.ID), Short(got))
	}
	for name, a := range s.Artifacts {
		if a.Service != name {
			return fmt.Errorf("snapshot %s: artifact for %q names service %q", Short(s.ID), name, a.Service)
		}
		if !ValidDigest(a.Digest) {
			return fmt.Errorf("snapshot %s: service %q has malformed digest %q", Short(s.ID), name, a.Digest)
		}
		if a.Image != "" && !strings.HasSuffix(a.Image, "@"+a.Digest) {
			return fmt.Errorf("snapshot %s: service %q pins image %q, which is not its artifact %s", Short(s.ID), name, a.Image, Short(a.Digest))
		}
	}
	return nil
}

// Services returns the snapshot's service names, sorted.
func (s *Snapshot) Services() []string {
	names := make([]string, 0, len(s.Artifacts))
	for name := range s.Artifacts {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Short returns the form of an ID or digest shown to people.
func Short(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > ShortLen {
		return id[:ShortLen]
	}
	return id
}

// ValidDigest reports whether d has the form "sha256:" followed by 64
// lowercase hex digits.
func ValidDigest(d string) bool {
	hexPart, ok := strings.CutPrefix(d, "sha256:")
	return ok && ValidID(hexPart)
}

// ValidID reports whether id is a full snapshot ID (64 lowercase hex digits).
func ValidID(id string) bool {
	if len(id) != 64 {
		return false
	}
	return isHex(id)
}

// ValidPrefix reports whether p may abbreviate an ID: 4 to 64 hex digits.
func ValidPrefix(p string) bool {
	return len(p) >= 4 && len(p) <= 64 && isHex(p)
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
