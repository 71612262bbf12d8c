package harness

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// OneRung is a ladder.yaml with only the demo's local rung. The demo's own
// ladder auto-promotes local to dev, which would start a second stack on
// fixed ports outside what is measured.
const OneRung = "stack: compose.yaml\nenvironments:\n  local:\n    target: auto\n    telemetry: {interval: 1s}\n"

// Demo is a copy of the trading demo laid out as `ladder demo` and the e2e
// tests lay it out.
type Demo struct {
	Root string // the copy's module root (go.mod, go.sum)
	Dir  string // the stack directory, Root/examples/trading: ladder -C Dir
}

// CopyDemo copies go.mod, go.sum and examples/trading from repo into
// root. It never copies a .ladder: a copy starts with no state, and the
// repository's own state is never read or touched.
func CopyDemo(repo, root string) (*Demo, error) {
	d := &Demo{Root: root, Dir: filepath.Join(root, "examples", "trading")}
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := CopyFile(filepath.Join(repo, f), filepath.Join(root, f)); err != nil {
			return nil, err
		}
	}
	demo := filepath.Join(repo, "examples", "trading")
	err := filepath.WalkDir(demo, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && e.Name() == ".ladder" {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(demo, path)
		if e.IsDir() {
			return os.MkdirAll(filepath.Join(d.Dir, rel), 0o755)
		}
		return CopyFile(path, filepath.Join(d.Dir, rel))
	})
	if err != nil {
		return nil, fmt.Errorf("copying the demo: %w", err)
	}
	return d, nil
}

// OneRungDemo is CopyDemo with OneRung as the copy's ladder.yaml, and a
// free port for its WEB_PORT, so that copies never collide with each
// other or with anyone's demo on the default port.
func OneRungDemo(repo, root string) (*Demo, int, error) {
	d, err := CopyDemo(repo, root)
	if err != nil {
		return nil, 0, err
	}
	if err := os.WriteFile(filepath.Join(d.Dir, "ladder.yaml"), []byte(OneRung), 0o644); err != nil {
		return nil, 0, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, 0, err
	}
	return d, port, nil
}

// CopyFile copies src to dst (mode 0644), making dst's directory.
func CopyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return CopyBytes(data, dst)
}

// WriteTree writes files (path relative to dir -> content) under dir,
// making directories as needed.
func WriteTree(dir string, files map[string]string) error {
	for name, content := range files {
		if err := CopyBytes([]byte(content), filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// CopyBytes writes data to dst (mode 0644), making dst's directory.
func CopyBytes(data []byte, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// FreePort is a port nothing listens on right now, so that no run needs
// a fixed port. Another process may still take it before it is used: a
// race the programs accept.
func FreePort() (int, error) {
	// Below the kernel's ephemeral range, where Docker publishes ports.
	for range 64 {
		port := 20000 + rand.IntN(12768)
		if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			ln.Close()
			return port, nil
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
