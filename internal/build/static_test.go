package build

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ladderhq/ladder/internal/spec"
)

// imageOf is an image holding files (path -> content) that runs argv.
func imageOf(t *testing.T, files map[string][]byte, argv ...string) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755})
	for name, b := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(b))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	tw.Close()
	layer, err := tarball.LayerFromReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Config.Entrypoint = argv
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestStaticBinary(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.mod"), "module tiny\n\ngo 1.22\n")
	writeFile(t, filepath.Join(dir, "main.go"), "package main\n\nfunc main() {}\n")
	static := filepath.Join(dir, "tiny")
	cmd := exec.Command("go", "build", "-o", static, ".")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	bin, _ := os.ReadFile(static)
	dynPath, err := exec.LookPath("ls")
	if err != nil {
		t.Fatal(err)
	}
	dyn, _ := os.ReadFile(dynPath)
	script := []byte("#!/bin/sh\necho hi\n")

	for _, tc := range []struct {
		name  string
		files map[string][]byte
		argv  []string
		want  bool
	}{
		{"one static binary", map[string][]byte{"app": bin}, []string{"/app"}, true},
		{"static binary in a directory", map[string][]byte{"bin/app": bin}, []string{"/bin/app", "serve"}, true},
		{"dynamically linked", map[string][]byte{"app": dyn}, []string{"/app"}, false},
		{"a script", map[string][]byte{"app": script}, []string{"/app"}, false},
		{"a binary and more files", map[string][]byte{"app": bin, "etc/conf": []byte("x")}, []string{"/app"}, false},
		{"runs something else", map[string][]byte{"app": bin}, []string{"/bin/sh"}, false},
		{"relative entrypoint", map[string][]byte{"app": bin}, []string{"app"}, false},
		{"nothing to run", map[string][]byte{"app": bin}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := StaticBinary(imageOf(t, tc.files, tc.argv...))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("StaticBinary = %v, want %v", got, tc.want)
			}
		})
	}

	goImg, _, err := goImage(bin, imageMeta{service: "api", arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := StaticBinary(goImg); err != nil || !ok {
		t.Fatalf("a Go build's image: StaticBinary = %v, %v; want true", ok, err)
	}
}

func TestContainerServices(t *testing.T) {
	dir := t.TempDir()
	dockerfiles := map[string]string{
		"scratch":    "FROM golang:1.22 AS build\nRUN true\nFROM scratch\nCOPY --from=build /x /app\n",
		"chain":      "FROM scratch AS base\nFROM base\nCOPY app /app\n",
		"debian":     "FROM debian:bookworm\nCMD [\"bash\"]\n",
		"target":     "FROM scratch AS bin\nCOPY app /app\nFROM debian:bookworm AS full\n",
		"targetfull": "FROM scratch AS bin\nCOPY app /app\nFROM debian:bookworm AS full\n",
	}
	proj := &types.Project{Name: "mix", WorkingDir: dir, Services: types.Services{
		"db": {Name: "db", ContainerSpec: types.ContainerSpec{Image: "postgres:15"}},
	}}
	for name, content := range dockerfiles {
		writeFile(t, filepath.Join(dir, name, "Dockerfile"), content)
		bc := &types.BuildConfig{Context: name, Dockerfile: "Dockerfile"}
		switch name {
		case "target":
			bc.Target = "bin"
		case "targetfull":
			bc.Target = "full"
		}
		proj.Services[name] = types.ServiceConfig{Name: name, WorkloadSpec: types.WorkloadSpec{Build: bc}}
	}
	writeFile(t, filepath.Join(dir, "gosvc", "main.go"), "package main\n\nfunc main() {}\n")
	proj.Services["gosvc"] = types.ServiceConfig{Name: "gosvc", WorkloadSpec: types.WorkloadSpec{Build: &types.BuildConfig{Context: "gosvc", Dockerfile: "Dockerfile"}}}
	got := ContainerServices(&spec.Stack{Name: "mix", File: filepath.Join(dir, "compose.yaml"), Compose: proj})
	want := []string{"db", "debian", "targetfull"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ContainerServices = %v, want %v", got, want)
	}
}

// staticELF, which reads only the headers, agrees with debug/elf's full
// parse on the binaries of this machine, and refuses truncated and
// malformed headers without an error.
func TestStaticELFAgreesWithDebugELF(t *testing.T) {
	var paths []string
	for _, dir := range []string{"/bin", "/usr/bin", "/usr/sbin"} {
		entries, _ := os.ReadDir(dir)
		for i, e := range entries {
			if i%7 == 0 && e.Type().IsRegular() { // a sample, for time
				paths = append(paths, filepath.Join(dir, e.Name()))
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		paths = append(paths, exe)
	}
	if bb, err := exec.LookPath("busybox"); err == nil {
		paths = append(paths, bb) // static on Debian's busybox-static
	}
	statics := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		want := false
		if f, err := elf.NewFile(bytes.NewReader(b)); err == nil {
			want = f.Type == elf.ET_EXEC || f.Type == elf.ET_DYN
			for _, prog := range f.Progs {
				want = want && prog.Type != elf.PT_INTERP
			}
			f.Close()
		}
		got, err := staticELF(bytes.NewReader(b), int64(len(b)))
		if err != nil || got != want {
			t.Errorf("%s: staticELF = %v, %v; debug/elf says %v", p, got, err, want)
		}
		if got {
			statics++
		}
		for _, n := range []int{0, 3, 20, 63, 100} {
			if n < len(b) {
				if got, err := staticELF(bytes.NewReader(b[:n]), int64(n)); got || err != nil {
					t.Errorf("%s cut at %d bytes: staticELF = %v, %v", p, n, got, err)
				}
			}
		}
	}
	if len(paths) < 5 || statics == 0 {
		t.Errorf("checked %d binaries, %d static: too few to tell", len(paths), statics)
	}
	// Program headers said to lie past the end of the file.
	b, _ := os.ReadFile(paths[len(paths)-1])
	bad := bytes.Clone(b[:4096])
	binary.LittleEndian.PutUint16(bad[56:], 0xffff) // e_phnum of an ELF64 file
	if got, err := staticELF(bytes.NewReader(bad), int64(len(bad))); got || err != nil {
		t.Errorf("headers past the end: staticELF = %v, %v", got, err)
	}
	// An offset so large that offset plus size wraps around.
	wrap := bytes.Clone(b[:4096])
	binary.LittleEndian.PutUint64(wrap[32:], ^uint64(0)-10) // e_phoff
	if got, err := staticELF(bytes.NewReader(wrap), int64(len(wrap))); got || err != nil {
		t.Errorf("a wrapping program header offset: staticELF = %v, %v", got, err)
	}
}
