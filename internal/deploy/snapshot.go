package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-git/go-git/v5"

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
func MakeSnapshot(ctx context.Context, p *spec.Project, st store.Store, b *build.Builder) (*Made, error) {
	arts, report, err := b.Build(ctx, p.Stack)
	if err != nil {
		return nil, err
	}
	if len(arts) == 0 {
		return nil, errors.New("no service of the stack has a build section: ladder builds every artifact it deploys")
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
