package build

import (
	"archive/tar"
	"bytes"
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
