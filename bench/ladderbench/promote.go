package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
	"github.com/ladderhq/ladder/internal/api"
)

// rungs is the demo copy with its two snapshots and what runs where.
type rungs struct {
	p        *project
	s1, s2   string
	local    string // the snapshot local runs
	dev      string // the snapshot dev runs
	index    []byte // the OCI layout's index.json before any promotion
	built    int    // artifact.built events before any promotion
	promoted int    // promotions after the first two
}

// promotions sets up local and dev, then measures part 1 (promotion
// overhead) and part 3 (rollback vs fresh deploy), and takes every rung
// down.
func (b *bench) promotions(ctx context.Context, res *results) error {
	p, err := b.newDemo("demo")
	if err != nil {
		return err
	}
	b.Logf("setup: lint, up (S1), promote S1 to dev, S2 = S1 plus an environment value on web")
	if _, err := b.ladderOK(ctx, p.dir, "lint"); err != nil {
		return fmt.Errorf("the benchmark's ladder.yaml does not lint clean: %w", err)
	}
	ru := &rungs{p: p}
	var built []string
	if ru.s1, built, _, err = b.up(ctx, p); err != nil {
		return err
	}
	if !harness.SameSet(built, services...) {
		return fmt.Errorf("first up built %v, want all of %v", built, services)
	}
	if _, _, err := b.promote(ctx, p, ru.s1, "dev", deployed...); err != nil {
		return err
	}
	// S2: the same artifacts, one more environment value on web.
	if err := edit(filepath.Join(p.dir, "compose.yaml"), "      TRADES_URL: http://trades:8080\n", "      TRADES_URL: http://trades:8080\n      LADDERBENCH_VARIANT: \"2\"\n"); err != nil {
		return err
	}
	var changed []string
	if ru.s2, built, changed, err = b.up(ctx, p); err != nil {
		return err
	}
	if ru.s2 == ru.s1 || len(built) != 0 || !harness.SameSet(changed, "web") {
		return fmt.Errorf("S2 should be a new snapshot, built without building, changing only web: %s built %v changed %v", short(ru.s2), built, changed)
	}
	if _, _, err := b.promote(ctx, p, ru.s2, "dev", "web"); err != nil {
		return err
	}
	ru.local, ru.dev = ru.s2, ru.s2
	res.s1, res.s2 = ru.s1, ru.s2
	if ru.index, ru.built, err = b.buildState(ctx, p); err != nil {
		return err
	}
	if ru.built != len(services) {
		return fmt.Errorf("%d artifact.built events after the first up, want %d", ru.built, len(services))
	}

	if err := b.overhead(ctx, ru, res); err != nil {
		return err
	}
	if err := b.noBuild(ctx, ru, res, "part 1"); err != nil {
		return err
	}
	if err := b.rollbackVsFresh(ctx, ru, res); err != nil {
		return err
	}
	if err := b.noBuild(ctx, ru, res, "part 3"); err != nil {
		return err
	}
	if err := b.served(ctx, ru, res); err != nil {
		return err
	}
	for _, env := range p.envs {
		if _, err := b.ladderOK(ctx, p.dir, "down", "--env", env); err != nil {
			return err
		}
	}
	return harness.Stopped(p.root)
}

// onLocal makes snap local's current release (untimed), as the
// previous-rung gate of a promotion to dev asks.
func (ru *rungs) onLocal(ctx context.Context, b *bench, snap string) error {
	if ru.local == snap {
		return nil
	}
	if _, _, err := b.rollback(ctx, ru.p, "local", snap, ru.local, snap, "web"); err != nil {
		return err
	}
	ru.local = snap
	return nil
}

// promoteDev promotes snap to dev, which must run the other snapshot.
func (ru *rungs) promoteDev(ctx context.Context, b *bench, snap string) (*api.DeployResult, time.Duration, error) {
	if err := ru.onLocal(ctx, b, snap); err != nil {
		return nil, 0, err
	}
	d, took, err := b.promote(ctx, ru.p, snap, "dev", "web")
	if err == nil {
		ru.dev = snap
		ru.promoted++
	}
	return d, took, err
}

// overhead is part 1: 2N deploys to dev alternating S1 and S2, N by
// promote and N by rollback --to, interleaved (promote, rollback,
// rollback, promote, ...) so both paths deploy in both directions. After
// each, `ladder history dev -o json` checks what dev runs, and `ladder
// --version` is timed as the cost of starting the process at all.
func (b *bench) overhead(ctx context.Context, ru *rungs, res *results) error {
	b.Logf("part 1: %d promotions and %d rollback --to deploys to dev, alternating S1 and S2", b.n, b.n)
	for k := range 2 * b.n {
		snap := ru.s1
		if k%2 == 1 {
			snap = ru.s2
		}
		if k%4 == 0 || k%4 == 3 {
			d, took, err := ru.promoteDev(ctx, b, snap)
			if err != nil {
				return err
			}
			res.Add("p.promote", took)
			res.Add("p.promote.deploy", d.Duration)
			res.Add("p.promote.overhead", took-d.Duration)
			b.Logf("  promote %s: %s (deploy %s)", short(snap), harness.Ms(took), harness.Ms(d.Duration))
		} else {
			d, took, err := b.rollback(ctx, ru.p, "dev", snap, ru.dev, snap, "web")
			if err != nil {
				return err
			}
			ru.dev = snap
			res.Add("p.direct", took)
			res.Add("p.direct.deploy", d.Duration)
			res.Add("p.direct.overhead", took-d.Duration)
			b.Logf("  rollback dev --to %s: %s (deploy %s)", short(snap), harness.Ms(took), harness.Ms(d.Duration))
		}
		took, err := b.history(ctx, ru.p, "dev", snap)
		if err != nil {
			return err
		}
		res.Add("p.history", took)
		r, err := b.ladderOK(ctx, ru.p.dir, "--version")
		if err != nil {
			return err
		}
		res.Add("p.version", r.Took)
	}
	return nil
}

// noBuild checks that nothing was built since the setup: the same
// index.json bytes and the same number of artifact.built events.
func (b *bench) noBuild(ctx context.Context, ru *rungs, res *results, part string) error {
	index, built, err := b.buildState(ctx, ru.p)
	if err != nil {
		return err
	}
	if !bytes.Equal(index, ru.index) || built != ru.built {
		return fmt.Errorf("%s built something: index.json %d -> %d bytes (equal: %v), artifact.built events %d -> %d",
			part, len(ru.index), len(index), bytes.Equal(index, ru.index), ru.built, built)
	}
	sum := sha256.Sum256(index)
	res.notes = append(res.notes, fmt.Sprintf("after %s (%d promotions since setup): `.ladder/artifacts/index.json` unchanged (%d bytes, sha256 %x…), artifact.built events unchanged (%d, from the local agent's `/api/v1/events?kind=artifact.built&limit=1000`)",
		part, ru.promoted, len(index), sum[:6], built))
	return nil
}

// rollbackVsFresh is part 3, N rounds on dev: (a) dev runs S2, `ladder
// rollback dev` goes back to the known-good S1, then S2 is promoted back;
// (b) `ladder down --env dev`, then `ladder rollback dev --to S1` on the
// empty site, then S2 is promoted back. The same command both times, so
// the difference is only what the deploy finds on the site.
func (b *bench) rollbackVsFresh(ctx context.Context, ru *rungs, res *results) error {
	b.Logf("part 3: %d rounds of rollback (S2 -> S1) vs fresh deploy of S1 on an empty dev", b.rollbacks)
	if err := ru.onLocal(ctx, b, ru.s2); err != nil {
		return err
	}
	if ru.dev != ru.s2 {
		if _, _, err := ru.promoteDev(ctx, b, ru.s2); err != nil {
			return err
		}
	}
	for i := range b.rollbacks {
		d, took, err := b.rollback(ctx, ru.p, "dev", "", ru.s2, ru.s1, "web")
		if err != nil {
			return fmt.Errorf("round %d (a): %w", i+1, err)
		}
		ru.dev = ru.s1
		res.Add("r.rollback", took)
		res.Add("r.rollback.deploy", d.Duration)
		if _, _, err := ru.promoteDev(ctx, b, ru.s2); err != nil {
			return err
		}

		if _, err := b.ladderOK(ctx, ru.p.dir, "down", "--env", "dev"); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(ru.p.dir, ".ladder", "agent-dev.json")); err == nil {
			return fmt.Errorf("round %d (b): the dev agent is still registered after ladder down --env dev", i+1)
		}
		fd, ftook, err := b.rollback(ctx, ru.p, "dev", ru.s1, "", ru.s1, deployed...)
		if err != nil {
			return fmt.Errorf("round %d (b): %w", i+1, err)
		}
		ru.dev = ru.s1
		res.Add("r.fresh", ftook)
		res.Add("r.fresh.deploy", fd.Duration)
		b.Logf("  round %d: rollback %s (deploy %s), fresh %s (deploy %s)", i+1, harness.Ms(took), harness.Ms(d.Duration), harness.Ms(ftook), harness.Ms(fd.Duration))
		if _, _, err := ru.promoteDev(ctx, b, ru.s2); err != nil {
			return err
		}
	}
	return nil
}
