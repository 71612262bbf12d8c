package compose_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlite"
	"github.com/ladderhq/ladder/internal/target"
	"github.com/ladderhq/ladder/internal/target/compose"
	"github.com/ladderhq/ladder/internal/target/targettest"
)

// TestOneHealthEventPerContainer deploys a service, then replaces it, and
// counts the health events each container got: exactly one, starting ->
// healthy. The replacement takes over the service's network alias after
// it is healthy, which reconnects it to its network; that must not make
// its health start over (a second "starting -> healthy"), and the fast
// probing before a container first answers must not report it unhealthy
// on its way up.
func TestOneHealthEventPerContainer(t *testing.T) {
	eng := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	b, digest := targettest.Fixture(t, ctx)

	var mu sync.Mutex
	var events []store.Event
	stack := uniqueStack("ev")
	tgt := compose.New(compose.Options{Engine: eng, Stack: stack, Images: b.Image, Events: func(e store.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}})
	site := render.SiteRef{Env: "test", Site: "one"}
	t.Cleanup(func() {
		_ = tgt.Down(context.Background(), site, target.DownOptions{Volumes: true})
		assertNothingLeft(t, eng, compose.ProjectName(stack, site))
	})
	st, err := sqlite.Open(t.TempDir() + "/ladder.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dp := &deploy.Deployer{Store: st, ImageID: renderImageIDs(b)}

	desired := func(version string) *render.Desired {
		s := render.Service{
			Name: "api", Digest: digest, Entrypoint: []string{"/app"}, WorkingDir: "/",
			Environment: map[string]string{"PATH": "/", "VERSION": version}, Replicas: 1, Restart: "on-failure", StopGrace: 2 * time.Second,
			Ports:    []render.Port{{Target: 8080, Protocol: "tcp"}},
			Networks: []string{"default"},
			Health:   &render.Health{HTTP: &render.Endpoint{Path: "/healthz", Port: 8080}, Interval: time.Second, Timeout: time.Second, Retries: 3},
		}
		s.Config = render.ConfigHash(s)
		return &render.Desired{SiteRef: site, Stack: stack, Snapshot: strings.Repeat(version, 64), Networks: []string{"default"}, Services: []render.Service{s}}
	}
	for _, v := range []string{"a", "b"} {
		if _, err := dp.Deploy(ctx, tgt, desired(v), deploy.Options{HealthTimeout: time.Minute}); err != nil {
			t.Fatalf("deploy %s: %v", v, err)
		}
	}
	// A few probe intervals after the switch, so a prober that started
	// over would have reported again.
	time.Sleep(3 * time.Second)

	mu.Lock()
	defer mu.Unlock()
	health := map[string][]string{} // container name -> transitions
	started := 0
	for _, e := range events {
		switch e.Kind {
		case store.EventInstanceStarted:
			started++
		case store.EventHealthChanged:
			name, _, _ := strings.Cut(e.Message, " ")
			health[name] = append(health[name], e.Attrs["from"]+"->"+e.Attrs["to"])
		}
	}
	if started != 2 {
		t.Errorf("%d instance.started events, want 2 (one per container)", started)
	}
	if len(health) != 2 {
		t.Errorf("health events for %d containers, want 2: %v", len(health), health)
	}
	for name, changes := range health {
		if len(changes) != 1 || changes[0] != "starting->healthy" {
			t.Errorf("%s: health events %v, want exactly [starting->healthy]", name, changes)
		}
	}
}
