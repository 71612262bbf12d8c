package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5"

	"github.com/ladderhq/ladder/internal/atomicfile"
	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
)

// Made is the outcome of MakeSnapshot.
type Made struct {
	Snapshot *snapshot.Snapshot
	Report   *build.Report
	// Created is false when the snapshot already existed (same content).
	Created bool
}

// MakeSnapshot builds what changed and records the snapshot of the stack
// as it is now. Building the same sources again yields the same snapshot.
// The stack definition is archived in stateDir (stacks/HASH.yaml) so the
// snapshot can be rendered again after the files on disk have moved on:
// a rollback deploys the definition the snapshot was made with.
func MakeSnapshot(ctx context.Context, p *spec.Project, st store.Store, b *build.Builder, stateDir string) (*Made, error) {
	return MakeSnapshotWith(ctx, p, st, b, stateDir, build.PinOptions{})
}

// MakeSnapshotWith is MakeSnapshot with the options that pin the images
// of image services (see build.Builder.Pin): the snapshot records every
// image by digest, built or not, so a promotion or rollback never
// resolves a tag again. The registry checks of moved tags may still run
// when it returns: Made.Report.WaitMoved waits for them.
func MakeSnapshotWith(ctx context.Context, p *spec.Project, st store.Store, b *build.Builder, stateDir string, pin build.PinOptions) (*Made, error) {
	start := time.Now()
	// Images are pinned while services build: one waits on the network,
	// the other on the compiler.
	var (
		pinned    map[string]snapshot.Artifact
		pinReport *build.Report
		pinErr    error
		pinDone   = make(chan struct{})
	)
	go func() {
		defer close(pinDone)
		pinned, pinReport, pinErr = b.Pin(ctx, p.Stack, pin)
	}()
	arts, report, err := b.Build(ctx, p.Stack)
	<-pinDone
	if err = errors.Join(err, pinErr); err != nil {
		return nil, err
	}
	for name, a := range pinned {
		arts[name] = a
	}
	report.AddPinned(pinReport)
	report.BuildTime = time.Since(start)
	if len(arts) == 0 {
		return nil, errors.New("the stack has no service with a build section or an image: nothing to deploy")
	}
	if err := archiveStack(p, stateDir); err != nil {
		return nil, fmt.Errorf("archiving the stack definition: %w", err)
	}
	snap := snapshot.New(p.Stack.Name, p.Stack.Hash, arts, Revision(p.Dir), time.Now())
	created, err := st.PutSnapshot(ctx, snap)
	if err != nil {
		return nil, fmt.Errorf("recording snapshot: %w", err)
	}
	if !created {
		// Keep the first record's provenance (revision and time).
		if stored, err := st.GetSnapshot(ctx, snap.ID); err == nil {
			snap = stored
		}
	}
	return &Made{Snapshot: snap, Report: report, Created: created}, nil
}

// RecordMade records the events of a new snapshot for an environment's
// sites: what was built, and the snapshot itself.
func RecordMade(rec *Recorder, m *Made, env string, sites []string) {
	for _, site := range sites {
		for _, svc := range m.Report.Built {
			a := m.Snapshot.Artifacts[svc]
			rec.Record(store.Event{
				Kind: store.EventBuilt, Env: env, Site: site, Snapshot: m.Snapshot.ID, Service: svc,
				Message: fmt.Sprintf("built %s as %s", svc, snapshot.Short(a.Digest)),
				Attrs:   map[string]string{"digest": a.Digest, "inputs": a.Inputs},
			})
		}
		if m.Created {
			rec.Record(store.Event{
				Kind: store.EventSnapshotCreated, Env: env, Site: site, Snapshot: m.Snapshot.ID,
				Message: fmt.Sprintf("snapshot %s created (%d services)", snapshot.Short(m.Snapshot.ID), len(m.Snapshot.Artifacts)),
			})
		}
	}
}

// Revision returns the git commit checked out in dir (or a parent), or ""
// when dir is not in a git repository. It is provenance only.
func Revision(dir string) string {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return ""
	}
	head, err := repo.Head()
	if err != nil {
		return ""
	}
	return head.Hash().String()
}

func stackArchive(stateDir, hash string) string {
	return filepath.Join(stateDir, "stacks", hash+".yaml")
}

// archiveStack writes the loaded stack definition, normalised by
// compose-go, once per definition hash.
func archiveStack(p *spec.Project, stateDir string) error {
	path := stackArchive(stateDir, p.Stack.Hash)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	b, err := p.Stack.Compose.MarshalYAML()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o644)
}

// StaleStackError says a snapshot's stack definition is neither the one on
// disk nor archived.
type StaleStackError struct{ Snapshot, Want, Have string }

func (e *StaleStackError) Error() string {
	return fmt.Sprintf("snapshot %s was made from another stack definition (%s) than the files on disk (%s), and that definition is not archived in this state directory; run `ladder up` to make a snapshot of the files",
		snapshot.Short(e.Snapshot), snapshot.Short(e.Want), snapshot.Short(e.Have))
}

// ProjectFor returns the project to render snap with: p itself when the
// stack on disk is the snapshot's, otherwise p's ladder file with the
// snapshot's archived stack definition. Environment values always come
// from the ladder file as it is now.
func ProjectFor(ctx context.Context, p *spec.Project, stateDir string, opts spec.LoadOptions, snap *snapshot.Snapshot) (*spec.Project, error) {
	return ProjectForWith(ctx, spec.Load, p, stateDir, opts, snap)
}

// LoadFunc loads a project: spec.Load, or a spec.Cache's Load.
type LoadFunc func(ctx context.Context, dir string, opts spec.LoadOptions) (*spec.Project, error)

// ProjectForWith is ProjectFor loading with load (a long-running engine
// passes its cache's).
func ProjectForWith(ctx context.Context, load LoadFunc, p *spec.Project, stateDir string, opts spec.LoadOptions, snap *snapshot.Snapshot) (*spec.Project, error) {
	if snap.StackHash == p.Stack.Hash {
		return p, nil
	}
	path := stackArchive(stateDir, snap.StackHash)
	if _, err := os.Stat(path); err != nil {
		return nil, &StaleStackError{Snapshot: snap.ID, Want: snap.StackHash, Have: p.Stack.Hash}
	}
	opts.StackFile, opts.Archived = path, true
	// The archive holds the services that ran, profiles resolved: "*"
	// keeps it whole whatever --profile or COMPOSE_PROFILES say now.
	opts.Profiles = []string{"*"}
	if opts.LadderFile == "" {
		opts.LadderFile = p.LadderFile
	}
	q, err := load(ctx, p.Dir, opts)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s's stack definition with the current ladder file: %w", snapshot.Short(snap.ID), err)
	}
	if q.Stack.Hash != snap.StackHash {
		return nil, fmt.Errorf("snapshot %s's archived stack definition hashes to %s, not %s: the archive was altered", snapshot.Short(snap.ID), snapshot.Short(q.Stack.Hash), snapshot.Short(snap.StackHash))
	}
	return q, nil
}
