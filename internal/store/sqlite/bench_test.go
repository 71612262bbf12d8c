package sqlite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

func benchEvent(i int) store.Event {
	return store.Event{
		Kind: store.EventHealthChanged, Env: "prod", Site: fmt.Sprintf("site-%d", i%4),
		Snapshot: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		Service:  "api", Message: "health changed to ready",
		Attrs: map[string]string{"from": "starting", "to": "ready"},
	}
}

// BenchmarkAppendEvent measures one committed event: the cost a deploy pays
// per step it records.
func BenchmarkAppendEvent(b *testing.B) {
	s, _ := openTemp(b)
	defer s.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.AppendEvent(ctx, benchEvent(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListEventsTail measures what a dashboard or `ladder logs -f`
// does on every poll: read the newest events after its cursor from a table
// of 10k events.
func BenchmarkListEventsTail(b *testing.B) {
	const total, tail = 10_000, 50
	s, _ := openTemp(b)
	defer s.Close()
	ctx := context.Background()
	// Seed in one transaction; 10k separate commits would only slow setup.
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range total {
		e := benchEvent(i)
		if _, err := tx.ExecContext(ctx, `INSERT INTO events (time_ms, kind, env, site, snapshot, service, message, attrs)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, int64(i), string(e.Kind), e.Env, e.Site, e.Snapshot,
			e.Service, e.Message, `{"from":"starting","to":"ready"}`); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		f    store.EventFilter
		want int
	}{
		{"AfterID", store.EventFilter{AfterID: total - tail}, tail},
		{"AfterIDEnvSite", store.EventFilter{AfterID: total - 4*tail, Env: "prod", Site: "site-1"}, tail},
		{"Newest", store.EventFilter{Limit: tail}, tail},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				events, err := s.ListEvents(ctx, bc.f)
				if err != nil {
					b.Fatal(err)
				}
				if len(events) != bc.want {
					b.Fatalf("%d events, want %d", len(events), bc.want)
				}
			}
		})
	}
}

// BenchmarkGetSnapshotPrefix resolves a 12-digit prefix (what the CLI shows
// and people paste back) among 1000 snapshots.
func BenchmarkGetSnapshotPrefix(b *testing.B) {
	const n = 1000
	s, _ := openTemp(b)
	defer s.Close()
	ctx := context.Background()
	var ids []string
	for i := range n {
		sum := sha256.Sum256(fmt.Appendf(nil, "svc %d", i))
		snap := snapshot.New("shop", fmt.Sprintf("%064x", i), map[string]snapshot.Artifact{
			"api": {Service: "api", Digest: "sha256:" + hex.EncodeToString(sum[:])},
		}, "", snapshotTime)
		if _, err := s.PutSnapshot(ctx, snap); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, snap.ID)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		id := ids[i%n]
		got, err := s.GetSnapshot(ctx, id[:snapshot.ShortLen])
		if err != nil || got.ID != id {
			b.Fatalf("GetSnapshot %s: %v", id[:snapshot.ShortLen], err)
		}
	}
}

// BenchmarkAppendEventParallel appends from 8 goroutines at once; they
// queue for the single writer connection.
func BenchmarkAppendEventParallel(b *testing.B) {
	s, _ := openTemp(b)
	defer s.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(4) // 4 × GOMAXPROCS goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.AppendEvent(ctx, benchEvent(i)); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkAcquireLease measures taking and releasing an environment's
// lease: the compare-and-set pair every promotion pays.
func BenchmarkAcquireLease(b *testing.B) {
	s, _ := openTemp(b)
	defer s.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		l, err := s.AcquireLease(ctx, "env/prod", store.Holder{Host: "bench", PID: 1, Instance: "bench"}, time.Now(), time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.ReleaseLease(ctx, l); err != nil {
			b.Fatal(err)
		}
	}
}
