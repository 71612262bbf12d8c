package sbom

import (
	"bytes"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

const (
	fixtureModule = "example.com/ladder-sbom-fixture"
	uuidModule    = "github.com/google/uuid"
	uuidVersion   = "v1.6.0"
)

var imageDigest = "sha256:" + strings.Repeat("ab", 32)

type fixture struct {
	path    string // the built binary
	withDep bool   // whether it links github.com/google/uuid
	err     error
}

var (
	fixtureOnce sync.Once
	built       fixture
	fixtureDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// buildFixture compiles a tiny Go program once per test run. If
// github.com/google/uuid v1.6.0 is in the module cache the program uses
// it, so the SBOM has a real dependency; otherwise it is stdlib only. The
// build is offline: GOPROXY=off, the local toolchain.
func buildFixture(t *testing.T) fixture {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command in PATH")
	}
	fixtureOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ladder-sbom-fixture-")
		if err != nil {
			built.err = err
			return
		}
		fixtureDir = dir
		built = buildIn(dir, true)
		if built.err != nil {
			built = buildIn(dir, false)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built
}

func buildIn(dir string, withDep bool) fixture {
	gomod := "module " + fixtureModule + "\n\ngo 1.22\n"
	src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"
	if withDep {
		gomod += "\nrequire " + uuidModule + " " + uuidVersion + "\n"
		src = "package main\n\nimport (\n\t\"fmt\"\n\n\t\"github.com/google/uuid\"\n)\n\n" +
			"func main() { fmt.Println(uuid.NewSHA1(uuid.NameSpaceURL, []byte(\"x\"))) }\n"
	}
	for name, body := range map[string]string{"go.mod": gomod, "main.go": src} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return fixture{err: err}
		}
	}
	os.Remove(filepath.Join(dir, "go.sum"))
	bin := filepath.Join(dir, "app")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Dir = dir
	// -mod=mod with GOSUMDB=off lets go record the cached module's hash
	// in the fixture's go.sum without reaching the checksum database.
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOPROXY=off", "GOSUMDB=off",
		"GOWORK=off", "GOFLAGS=-mod=mod -buildvcs=false", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fixture{err: errors.New("building fixture: " + err.Error() + "\n" + string(out))}
	}
	return fixture{path: bin, withDep: withDep}
}

func encode(t *testing.T, bom *cdx.BOM) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Encode(bom, &b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func component(bom *cdx.BOM, purl string) *cdx.Component {
	for i, c := range *bom.Components {
		if c.PackageURL == purl {
			return &(*bom.Components)[i]
		}
	}
	return nil
}

func TestForGoBinary(t *testing.T) {
	fx := buildFixture(t)
	bin, err := os.ReadFile(fx.path)
	if err != nil {
		t.Fatal(err)
	}
	bi, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		t.Fatal(err)
	}
	bom, err := ForGoBinary("API", imageDigest, bin)
	if err != nil {
		t.Fatal(err)
	}

	if bom.SpecVersion < cdx.SpecVersion1_5 || bom.BOMFormat != "CycloneDX" {
		t.Errorf("spec %v format %q", bom.SpecVersion, bom.BOMFormat)
	}
	if bom.Metadata.Timestamp != "" {
		t.Errorf("timestamp %q makes the SBOM non-reproducible", bom.Metadata.Timestamp)
	}
	if !strings.HasPrefix(bom.SerialNumber, "urn:uuid:") || bom.SerialNumber != SerialNumber("API", imageDigest) {
		t.Errorf("serial number %q", bom.SerialNumber)
	}

	img := bom.Metadata.Component
	wantImage := "pkg:oci/api@" + imageDigest
	if img == nil || img.Type != cdx.ComponentTypeApplication || img.Name != "API" || img.PackageURL != wantImage {
		t.Fatalf("metadata component = %+v, want application %s", img, wantImage)
	}

	mainPURL := "pkg:golang/" + fixtureModule
	mainMod := component(bom, mainPURL)
	if mainMod == nil {
		t.Fatalf("no main module %s in %v", mainPURL, purls(bom))
	}
	if !hasProp(mainMod, "ladder:go:build:CGO_ENABLED", "0") || !hasProp(mainMod, "ladder:go:build:-trimpath", "true") {
		t.Errorf("main module does not record build settings: %+v", mainMod.Properties)
	}

	goVersion := strings.TrimPrefix(strings.Fields(bi.GoVersion)[0], "go")
	std := component(bom, "pkg:golang/stdlib@"+goVersion)
	if std == nil {
		t.Fatalf("no toolchain component pkg:golang/stdlib@%s in %v", goVersion, purls(bom))
	}
	if !strings.Contains(std.Description, bi.GoVersion) {
		t.Errorf("stdlib description %q does not name toolchain %s", std.Description, bi.GoVersion)
	}

	wantDeps := []string{std.BOMRef}
	if fx.withDep {
		dep := component(bom, "pkg:golang/"+uuidModule+"@"+uuidVersion)
		if dep == nil {
			t.Fatalf("no %s@%s in %v", uuidModule, uuidVersion, purls(bom))
		}
		var sum string
		for _, d := range bi.Deps {
			if d.Path == uuidModule {
				sum = d.Sum
			}
		}
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sum, "h1:"))
		if dep.Hashes == nil || len(*dep.Hashes) != 1 || (*dep.Hashes)[0].Value != hex.EncodeToString(raw) ||
			(*dep.Hashes)[0].Algorithm != cdx.HashAlgoSHA256 {
			t.Errorf("uuid hashes = %+v, want SHA-256 of %s", dep.Hashes, sum)
		}
		if !hasProp(dep, "ladder:go:module:sum", sum) {
			t.Errorf("uuid does not keep its go.sum hash %s", sum)
		}
		wantDeps = append(wantDeps, dep.BOMRef)
	} else {
		t.Logf("%s@%s not in the module cache: dependency checks skipped", uuidModule, uuidVersion)
	}

	graph := map[string][]string{}
	for _, d := range *bom.Dependencies {
		graph[d.Ref] = *d.Dependencies
	}
	if got := graph[wantImage]; len(got) != 1 || got[0] != mainPURL {
		t.Errorf("image depends on %v, want [%s]", got, mainPURL)
	}
	if got := graph[mainPURL]; !sameSet(got, wantDeps) {
		t.Errorf("main module depends on %v, want %v", got, wantDeps)
	}
	if len(*bom.Components) != len(wantDeps)+1 {
		t.Errorf("components %v, want main module and %v", purls(bom), wantDeps)
	}
}

func TestDeterministic(t *testing.T) {
	fx := buildFixture(t)
	bin, err := os.ReadFile(fx.path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ForGoBinary("api", imageDigest, bin)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ForGoBinaryFile("api", imageDigest, fx.path)
	if err != nil {
		t.Fatal(err)
	}
	ea, eb := encode(t, a), encode(t, b)
	if !bytes.Equal(ea, eb) {
		t.Fatalf("two runs differ:\n%s\n---\n%s", ea, eb)
	}
	// A different image of the same binary gets a different serial.
	other, err := ForGoBinary("api", "sha256:"+strings.Repeat("cd", 32), bin)
	if err != nil {
		t.Fatal(err)
	}
	if other.SerialNumber == a.SerialNumber {
		t.Error("two images share a serial number")
	}
}

func TestRoundTripThroughDisk(t *testing.T) {
	fx := buildFixture(t)
	bom, err := ForGoBinaryFile("api", imageDigest, fx.path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := Read(dir, imageDigest); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read before Write: got %v, want fs.ErrNotExist", err)
	}
	if err := Write(dir, imageDigest, bom); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, strings.Repeat("ab", 32)+".cdx.json")
	onDisk, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, encode(t, bom)) {
		t.Error("file differs from Encode output")
	}
	got, err := Read(dir, imageDigest)
	if err != nil {
		t.Fatal(err)
	}
	// Decoding with cyclonedx-go and encoding again must be lossless.
	if again := encode(t, got); !bytes.Equal(again, onDisk) {
		t.Errorf("decode/encode round trip changed the SBOM:\n%s\n---\n%s", onDisk, again)
	}
	if got.Metadata.Component.PackageURL != "pkg:oci/api@"+imageDigest {
		t.Errorf("decoded metadata component %+v", got.Metadata.Component)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*")); len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestErrors(t *testing.T) {
	exe, err := os.Executable() // a Go binary, though not a fixture
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, service, digest string
		bin                   []byte
		want                  string
	}{
		{"not a Go binary", "api", imageDigest, []byte("#!/bin/sh\necho hi\n"), "is it a Go binary?"},
		{"bad digest", "api", "sha256:1234", nil, "not a sha256 image digest"},
		{"no service", "", imageDigest, nil, "no service name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ForGoBinary(tt.service, tt.digest, tt.bin)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}
	if _, err := ForGoBinaryFile("api", imageDigest, exe); err != nil {
		t.Errorf("the test binary itself: %v", err)
	}
	if err := Write(t.TempDir(), "../../x", &cdx.BOM{}); err == nil {
		t.Error("Write accepted a path-like digest")
	}
}

func TestReplacedModules(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8 X:nocoverageredesign",
		Main:      debug.Module{Path: "example.com/app", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "example.com/old", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/fork", Version: "v1.0.1+incompatible", Sum: "h1:" + base64.StdEncoding.EncodeToString(make([]byte, 32))}},
			{Path: "example.com/local", Version: "v0.1.0", Replace: &debug.Module{Path: "../local"}},
		},
	}
	bom, err := FromBuildInfo("app", imageDigest, bi)
	if err != nil {
		t.Fatal(err)
	}
	fork := component(bom, "pkg:golang/example.com/fork@v1.0.1%2Bincompatible")
	if fork == nil || !hasProp(fork, "ladder:go:module:replaces", "example.com/old@v1.0.0") || fork.Hashes == nil {
		t.Errorf("replacement module: %+v in %v", fork, purls(bom))
	}
	local := component(bom, "pkg:golang/example.com/local@v0.1.0")
	if local == nil || !hasProp(local, "ladder:go:module:replacedBy", "../local") {
		t.Errorf("locally replaced module: %+v in %v", local, purls(bom))
	}
	std := component(bom, "pkg:golang/stdlib@1.26.8")
	if std == nil || std.CPE != "cpe:2.3:a:golang:go:1.26.8:-:*:*:*:*:*:*" {
		t.Errorf("stdlib component %+v", std)
	}
	if component(bom, "pkg:golang/example.com/app") == nil {
		t.Errorf("(devel) main module should have a versionless purl: %v", purls(bom))
	}
}

func purls(bom *cdx.BOM) []string {
	var out []string
	for _, c := range *bom.Components {
		out = append(out, c.PackageURL)
	}
	return out
}

func hasProp(c *cdx.Component, name, value string) bool {
	if c.Properties == nil {
		return false
	}
	for _, p := range *c.Properties {
		if p.Name == name && p.Value == value {
			return true
		}
	}
	return false
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		if m[s]--; m[s] < 0 {
			return false
		}
	}
	return true
}
