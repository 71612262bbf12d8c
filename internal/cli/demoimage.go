package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/ladderhq/ladder"
)

// The demo's database image when POSTGRES_IMAGE is unset: PostgreSQL from
// Debian's packages, which a machine that reaches no container registry
// can still build.
const (
	demoPostgresImage   = "ladder.local/postgres:15"
	demoPostgresPackage = "postgresql-15"
)

// demoImageHint is the hint for a database image that could not be built.
const demoImageHint = "Try: apt-get install mmdebstrap (as root) and run ladder demo again, or, where a registry is reachable, POSTGRES_IMAGE=postgres:15 ladder demo"

// ensureDemoImage builds the demo's PostgreSQL image when the Docker engine
// lacks it, with the repository's scripts/debian-image.sh (carried in the
// binary). It does nothing when POSTGRES_IMAGE names another image or
// there is no docker command: then the deploy reports what is missing.
func ensureDemoImage(ctx context.Context, out, errw io.Writer) error {
	if v := os.Getenv("POSTGRES_IMAGE"); v != "" && v != demoPostgresImage {
		return nil
	}
	docker, err := exec.LookPath("docker")
	if err != nil {
		return nil
	}
	inspect := exec.CommandContext(ctx, docker, "image", "inspect", demoPostgresImage)
	if inspect.Run() == nil {
		return nil
	}
	if err := exec.CommandContext(ctx, docker, "version").Run(); err != nil {
		return nil // no engine: ladder up says so and picks the process target
	}
	fmt.Fprintf(out, "the demo's database image %s is missing: building it from Debian's packages (mmdebstrap | docker import, about 60s)\n", demoPostgresImage)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "bash", "-c", ladder.DebianImageScript, "debian-image.sh", demoPostgresImage, demoPostgresPackage)
	cmd.Stdout, cmd.Stderr = errw, errw
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) || errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("building the demo's database image %s: %w\n%s", demoPostgresImage, err, demoImageHint)
		}
		return err
	}
	fmt.Fprintf(out, "built %s in %s\n", demoPostgresImage, time.Since(start).Round(time.Second))
	return nil
}
