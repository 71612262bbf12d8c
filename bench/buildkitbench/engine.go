package main

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	gtypes "github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ladderhq/ladder/internal/build"
)

// engine is the Docker engine the builds run against.
type engine struct {
	cli *client.Client
	tmp string
}

func newEngine() (*engine, error) {
	cli, err := build.NewDockerClient()
	if err != nil {
		return nil, err
	}
	if _, err := cli.Ping(context.Background()); err != nil {
		return nil, fmt.Errorf("Docker engine not reachable: %w", err)
	}
	tmp, err := os.MkdirTemp("", "buildkitbench-image-")
	if err != nil {
		return nil, err
	}
	return &engine{cli: cli, tmp: tmp}, nil
}

func (e *engine) close() error {
	os.RemoveAll(e.tmp)
	return e.cli.Close()
}

func (e *engine) removeImage(ref string) error {
	_, err := e.cli.ImageRemove(context.Background(), ref, image.RemoveOptions{PruneChildren: true})
	return err
}

// loadGoImage assembles an image holding this machine's Go toolchain
// (what `go build` of a standard-library program reads) and Debian's
// static busybox for the shell, and loads it into the engine under a tag
// of its own: no registry is needed.
func (e *engine) loadGoImage(ctx context.Context) (string, error) {
	layerPath := filepath.Join(e.tmp, "layer.tar")
	if err := writeGoLayer(layerPath, goroot()); err != nil {
		return "", err
	}
	layer, err := tarball.LayerFromFile(layerPath, tarball.WithMediaType(gtypes.OCILayer))
	if err != nil {
		return "", err
	}
	img := mutate.MediaType(empty.Image, gtypes.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, gtypes.OCIConfigJSON)
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return "", err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Env = []string{"PATH=/usr/local/go/bin:/bin", "HOME=/root", "GOTOOLCHAIN=local", "GOPROXY=off",
		"GOFLAGS=-buildvcs=false", "CGO_ENABLED=0"}
	cf.Config.Cmd = []string{"/bin/sh"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return "", err
	}
	var r [4]byte
	rand.Read(r[:])
	ref := "ladder-bench-golang-" + hex.EncodeToString(r[:]) + ":1"
	if _, err := build.LoadImage(ctx, e.cli, img, ref); err != nil {
		return "", err
	}
	return ref, nil
}

// writeGoLayer writes the layer: GOROOT's go command, compiler, linker and
// assembler, the standard library's sources (without cmd/, tests and test
// data), and busybox as /bin/sh.
func writeGoLayer(path, goroot string) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox not found (apt-get install busybox-static): %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	dirs := map[string]bool{}
	mkdirs := func(name string) error {
		var parts []string
		for d := filepath.Dir(name); d != "." && d != "/"; d = filepath.Dir(d) {
			parts = append([]string{d}, parts...)
		}
		for _, d := range parts {
			if !dirs[d] {
				dirs[d] = true
				mode := int64(0o755)
				if d == "tmp" {
					mode = 0o1777
				}
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode}); err != nil {
					return err
				}
			}
		}
		return nil
	}
	add := func(name, src string, mode int64) error {
		if err := mkdirs(name); err != nil {
			return err
		}
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		defer in.Close()
		fi, err := in.Stat()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: fi.Size()}); err != nil {
			return err
		}
		_, err = io.CopyN(tw, in, fi.Size())
		return err
	}
	if err := add("bin/busybox", bb, 0o755); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/sh", Linkname: "busybox"}); err != nil {
		return err
	}
	for _, d := range []string{"tmp/x", "root/x"} {
		if err := mkdirs(d); err != nil {
			return err
		}
	}
	const dst = "usr/local/go/"
	for _, p := range []string{"bin/go", "pkg/tool/linux_" + runtime.GOARCH + "/compile", "pkg/tool/linux_" + runtime.GOARCH + "/link",
		"pkg/tool/linux_" + runtime.GOARCH + "/asm", "go.env", "VERSION"} {
		if err := add(dst+p, filepath.Join(goroot, p), 0o755); err != nil {
			return err
		}
	}
	for _, tree := range []string{"src", "pkg/include"} {
		root := filepath.Join(goroot, tree)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(goroot, p)
			if d.IsDir() && (rel == "src/cmd" || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if d.IsDir() || !d.Type().IsRegular() || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			return add(dst+filepath.ToSlash(rel), p, 0o644)
		})
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}
