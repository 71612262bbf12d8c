package cli

import (
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/store"
)

// TestProgressLines: a detached `up` shows one line per thing that
// happened to its own environment's instances, and nothing of the other
// rungs that share the store (an auto-promoted dev deploys the same
// services with the same instance names).
func TestProgressLines(t *testing.T) {
	events := []store.Event{
		{Env: "local", Kind: store.EventInstanceStarted, Service: "users", Message: "users 1-170dff38 started (pid 20190)"},
		{Env: "dev", Kind: store.EventInstanceStarted, Service: "users", Message: "users 1-170dff38 started (pid 20385)"},
		{Env: "local", Kind: store.EventHealthChanged, Service: "users", Message: "users 1-170dff38 starting -> healthy", Attrs: map[string]string{"from": "starting", "to": "healthy"}},
		{Env: "dev", Kind: store.EventHealthChanged, Service: "users", Message: "users 1-170dff38 starting -> healthy", Attrs: map[string]string{"from": "starting", "to": "healthy"}},
		{Env: "local", Kind: store.EventHealthChanged, Service: "web", Message: "trading-local-default-web-2-0c09d295 starting -> healthy", Attrs: map[string]string{"from": "starting", "to": "healthy"}},
		{Env: "local", Kind: store.EventHealthChanged, Service: "web", Message: "trading-local-default-web-1-0c09d295 healthy -> unhealthy", Attrs: map[string]string{"from": "healthy", "to": "unhealthy"}},
		{Env: "local", Kind: store.EventDeploySucceeded, Message: "release 3 succeeded"},
	}
	var got []string
	for _, e := range events {
		if line, ok := progressLine(e, "local"); ok {
			got = append(got, line)
		}
	}
	want := []string{
		"  • users            1-170dff38 started (pid 20190)",
		"  ✓ users            healthy   1-170dff38",
		"  ✓ web              healthy   trading-local-default-web-2-0c09d295",
		"  ✗ web              trading-local-default-web-1-0c09d295 healthy -> unhealthy",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("progress lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
