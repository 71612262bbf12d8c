package compose

import (
	"errors"
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/dockertest"
	"github.com/ladderhq/ladder/internal/target"
)

// TestDialSiteEngine reaches a second engine by the host a site names,
// over TCP and over its socket, and reports an engine that does not
// answer as the site's.
func TestDialSiteEngine(t *testing.T) {
	e := dockertest.Start(t)
	for _, host := range []string{e.TCP, e.Socket} {
		c, err := Dial(t.Context(), target.Engine{Host: host})
		if err != nil {
			t.Fatalf("Dial %s: %v", host, err)
		}
		info, err := c.Info(t.Context())
		c.Close()
		if err != nil || info.DockerRootDir != e.DataRoot {
			t.Errorf("Dial %s reached root %q (%v), want the second engine's %q", host, info.DockerRootDir, err, e.DataRoot)
		}
	}
	if got := HostOf(target.Engine{Host: e.TCP}); got != e.TCP {
		t.Errorf("HostOf = %q, want %q", got, e.TCP)
	}

	var ue *UnreachableError
	_, err := Dial(t.Context(), target.Engine{Host: "tcp://127.0.0.1:1"})
	if !errors.As(err, &ue) || !ue.Site || !strings.Contains(err.Error(), "target.docker.host") {
		t.Errorf("Dial of a closed port: error = %v, want the site's engine named unreachable", err)
	}
	_, err = Dial(t.Context(), target.Engine{Host: "ssh://deploy@example.invalid", CA: "/ca.pem"})
	if err == nil || !strings.Contains(err.Error(), "TLS settings do not apply to an ssh:// engine") {
		t.Errorf("Dial ssh with TLS files: error = %v", err)
	}
	_, err = Dial(t.Context(), target.Engine{Host: e.TCP, CA: "/nonexistent/ca.pem"})
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("Dial with a missing CA file: error = %v", err)
	}
}
