package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/ladderhq/ladder/internal/buildkit"
)

// dockerSpec is the Dockerfile part of a job.
type dockerSpec struct {
	// dockerfile is the Dockerfile's path, absolute; empty for inline.
	dockerfile string
	// display names the Dockerfile in messages, relative to the project.
	display string
	inline  string
	args    types.MappingWithEquals
	target  string
	// extraHosts are host entries for the build's RUN steps, "host=ip"
	// in key order (build.extra_hosts).
	extraHosts []string
	// secrets and ssh are what the build may mount (BuildKit only).
	secrets []buildkit.Secret
	ssh     []buildkit.SSH
}

func planDockerfile(name string, bc *types.BuildConfig, ctxDir, base string, projSecrets types.Secrets) (*dockerSpec, error) {
	d := &dockerSpec{inline: bc.DockerfileInline, args: bc.Args, target: bc.Target, display: "the inline Dockerfile"}
	for _, host := range slices.Sorted(maps.Keys(bc.ExtraHosts)) {
		for _, ip := range bc.ExtraHosts[host] {
			d.extraHosts = append(d.extraHosts, host+"="+ip)
		}
	}
	if d.inline == "" {
		file := bc.Dockerfile
		if file == "" {
			file = "Dockerfile"
		}
		if !filepath.IsAbs(file) {
			file = filepath.Join(ctxDir, file)
		}
		d.dockerfile = filepath.Clean(file)
		d.display = d.dockerfile
		if rel, err := filepath.Rel(base, d.dockerfile); err == nil && !strings.HasPrefix(rel, "..") {
			d.display = rel
		}
	}
	// As docker compose does: the secret's ID in the build is its target
	// when one is given, else its name.
	for _, ref := range bc.Secrets {
		sec, ok := projSecrets[ref.Source]
		if !ok {
			return nil, fmt.Errorf("service %q: build secret %q is not defined under the top-level secrets", name, ref.Source)
		}
		id := ref.Source
		if ref.Target != "" {
			id = ref.Target
		}
		switch {
		case sec.File != "":
			file := sec.File
			if !filepath.IsAbs(file) {
				file = filepath.Join(base, file)
			}
			d.secrets = append(d.secrets, buildkit.Secret{ID: id, File: file})
		case sec.Environment != "":
			d.secrets = append(d.secrets, buildkit.Secret{ID: id, Env: sec.Environment})
		default:
			return nil, fmt.Errorf("service %q: build secret %q has neither file nor environment", name, ref.Source)
		}
	}
	for _, k := range bc.SSH {
		s := buildkit.SSH{ID: k.ID}
		if k.Path != "" {
			path := k.Path
			if !filepath.IsAbs(path) {
				path = filepath.Join(base, path)
			}
			s.Paths = []string{path}
		}
		d.ssh = append(d.ssh, s)
	}
	return d, nil
}

// dockerfile is a Dockerfile read for one build: its content and the name
// the engine finds it under in the context tar.
type dockerfile struct {
	content []byte
	// name is the slash path inside the context. A Dockerfile from outside
	// the context (or inline) is added to the tar as extra (the docker CLI
	// does the same) and listed in the .dockerignore sent along, so that
	// `COPY . .` does not pick it up.
	name  string
	extra bool
}

func (d *dockerSpec) read(ctxDir string) (*dockerfile, error) {
	if d.dockerfile == "" {
		return extraDockerfile([]byte(d.inline)), nil
	}
	content, err := os.ReadFile(d.dockerfile)
	if err != nil {
		return nil, fmt.Errorf("reading the Dockerfile: %w", err)
	}
	rel, err := filepath.Rel(ctxDir, d.dockerfile)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return extraDockerfile(content), nil
	}
	return &dockerfile{content: content, name: filepath.ToSlash(rel)}, nil
}

func extraDockerfile(content []byte) *dockerfile {
	sum := sha256.Sum256(content)
	return &dockerfile{content: content, name: ".dockerfile.ladder-" + hex.EncodeToString(sum[:6]), extra: true}
}
