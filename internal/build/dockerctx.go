package build

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// DockerfileBuilderVersion is mixed into the inputs hash of every
// Dockerfile service, together with the builder that runs it (the
// engine's classic builder, or a BuildKit). Bump it when the way ladder
// sends a context or normalises the built image changes.
const DockerfileBuilderVersion = "ladder-dockerfile/3"

// dockerInputs returns the inputs hash of a Dockerfile service: the files
// of its context that .dockerignore does not exclude (path, type, mode,
// content), the Dockerfile, build args, target, the base images it reads
// (by image ID), the names and sources of its build secrets and SSH
// agents (never their content), and the builder. The context part comes
// from the stat cache when nothing it was computed from changed.
func (s *session) dockerInputs(ctx context.Context, j *job) (string, error) {
	be := s.b.backend(ctx)
	if be.err != nil {
		return "", fmt.Errorf("service %q: %w", j.service, be.err)
	}
	if be.bk == nil && (len(j.docker.secrets) > 0 || len(j.docker.ssh) > 0) {
		return "", configErr("service %q: build secrets and ssh need BuildKit, and the Docker engine has none "+
			"(set LADDER_BUILDKIT_HOST to a BuildKit's address)", j.service)
	}
	df, err := j.docker.read(j.context)
	if err != nil {
		return "", fmt.Errorf("service %q: %w", j.service, err)
	}
	bases, err := s.b.resolveBases(ctx, j, df, be.bk == nil)
	if err != nil {
		return "", err
	}
	j.bases = bases
	skips := s.b.contextSkips(j.context)
	// The pattern list depends on the Dockerfile's name (it is always
	// sent), so contexts shared by two Dockerfiles have two entries.
	key := "dockerfile " + df.name + " in " + j.context
	if len(skips) > 0 {
		key += " without " + strings.Join(skips, ",")
	}
	source, miss := s.cache.lookup(key, DockerfileBuilderVersion)
	if miss != cacheHit {
		var entry *cacheEntry
		source, entry, err = contextHash(j.context, df, skips)
		if err != nil {
			return "", fmt.Errorf("service %q: build context: %w", j.service, err)
		}
		s.cache.put(key, entry)
	}
	h := sha256.New()
	fmt.Fprintf(h, "ladder inputs\nbuilder %s engine-builder=%s\nservice %s\n", DockerfileBuilderVersion, be.kind, j.service)
	fmt.Fprintf(h, "dockerfile %s %x\ntarget %s\n", df.name, sha256.Sum256(df.content), j.docker.target)
	for _, k := range sortedArgs(j.docker.args) {
		if v := j.docker.args[k]; v != nil {
			fmt.Fprintf(h, "arg %q=%q\n", k, *v)
		} else {
			fmt.Fprintf(h, "arg %q unset\n", k)
		}
	}
	for _, b := range bases {
		fmt.Fprintf(h, "image %s %s\n", b.Ref, b.ID)
	}
	for _, sec := range j.docker.secrets {
		fmt.Fprintf(h, "secret %q file=%q env=%q\n", sec.ID, sec.File, sec.Env)
	}
	for _, k := range j.docker.ssh {
		fmt.Fprintf(h, "ssh %q %q\n", k.ID, k.Paths)
	}
	hashLabels(h, j.labels)
	for _, e := range j.docker.extraHosts {
		fmt.Fprintf(h, "host %q\n", e)
	}
	fmt.Fprintf(h, "context %s\n", source)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashLabels writes the image's labels into an inputs hash, in key order;
// nothing when there are none, so the inputs of images without labels stay
// as they were.
func hashLabels(w io.Writer, labels map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		fmt.Fprintf(w, "label %q=%q\n", k, labels[k])
	}
}

func sortedArgs(m types.MappingWithEquals) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// contextHash hashes what writeContextTar sends and returns the stat cache
// entry for it (nil when a file changed too recently to be trusted later).
func contextHash(dir string, df *dockerfile, skips []string) (string, *cacheEntry, error) {
	at := time.Now()
	h := newSourceHasher()
	// .dockerignore is watched whether or not it exists: creating or
	// editing it changes what is sent.
	h.stats[filepath.Join(dir, ".dockerignore")] = statOf(filepath.Join(dir, ".dockerignore"))
	err := walkContext(dir, df, skips, func(rel string, abs string, fi fs.FileInfo, walked bool) error {
		if walked {
			// A directory walked into, maybe only for an exception
			// pattern: its mtime tells when an entry appears in it.
			h.stats[abs] = statOf(abs)
			return nil
		}
		mode := tarMode(fi)
		switch {
		case fi.Mode().IsRegular():
			return h.file(fmt.Sprintf("file %q %o", rel, mode), abs)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(abs)
			if err != nil {
				return err
			}
			h.stats[abs] = statOf(abs)
			h.line(fmt.Sprintf("symlink %q %q", rel, target))
		case fi.IsDir():
			h.line(fmt.Sprintf("dir %q %o", rel, mode))
		}
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	source := h.sum()
	if h.racy(at) {
		return source, nil, nil
	}
	return source, &cacheEntry{Toolchain: DockerfileBuilderVersion, Source: source, Files: h.statList()}, nil
}

// ignorePatterns reads dir/.dockerignore and keeps .dockerignore and the
// Dockerfile in the context even when excluded, as the docker CLI does
// (the engine reads them, then drops the excluded ones itself).
func ignorePatterns(dir string, df *dockerfile) (*patternmatcher.PatternMatcher, error) {
	var patterns []string
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	switch {
	case err == nil:
		patterns, err = ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading .dockerignore: %w", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	for _, keep := range []string{".dockerignore", df.name} {
		if keep == "" || df.extra && keep == df.name {
			continue
		}
		if excluded, _ := patternmatcher.MatchesOrParentMatches(keep, patterns); excluded {
			patterns = append(patterns, "!"+keep)
		}
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	return pm, nil
}

// walkContext calls fn for every entry of dir that .dockerignore keeps, in
// lexical order, with its slash path relative to dir; and with walked set
// for every directory it descends into (including dir itself and excluded
// directories that an exception pattern may reach into). The matching is
// the docker CLI's (moby/go-archive TarWithOptions): excluded directories
// are skipped unless a "!" pattern starts inside them.
//
// skips are directories (slash paths relative to dir) never entered:
// ladder's own state (see contextSkips), whatever .dockerignore says.
func walkContext(dir string, df *dockerfile, skips []string, fn func(rel, abs string, fi fs.FileInfo, walked bool) error) error {
	pm, err := ignorePatterns(dir, df)
	if err != nil {
		return err
	}
	type parent struct {
		dir  string
		info patternmatcher.MatchInfo
	}
	var parents []parent
	return filepath.WalkDir(dir, func(abs string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, abs)
		if err != nil {
			return err
		}
		if rel == "." {
			return fn(".", abs, nil, true)
		}
		if d.IsDir() && slices.Contains(skips, filepath.ToSlash(rel)) {
			return filepath.SkipDir
		}
		for len(parents) > 0 && !strings.HasPrefix(rel, parents[len(parents)-1].dir+string(filepath.Separator)) {
			parents = parents[:len(parents)-1]
		}
		var pinfo patternmatcher.MatchInfo
		if len(parents) > 0 {
			pinfo = parents[len(parents)-1].info
		}
		skip, info, err := pm.MatchesUsingParentResults(rel, pinfo)
		if err != nil {
			return err
		}
		if d.IsDir() {
			parents = append(parents, parent{rel, info})
		}
		if skip {
			if !d.IsDir() || !exceptionInside(pm, rel) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			return fn(filepath.ToSlash(rel), abs, nil, true)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if !fi.IsDir() && !fi.Mode().IsRegular() && fi.Mode()&fs.ModeSymlink == 0 {
			return nil // sockets, devices, pipes: not build context material
		}
		if err := fn(filepath.ToSlash(rel), abs, fi, false); err != nil {
			return err
		}
		if fi.IsDir() {
			return fn(filepath.ToSlash(rel), abs, nil, true)
		}
		return nil
	})
}

// exceptionInside reports whether an exception pattern ("!dir/keep") may
// re-include something under the excluded directory rel.
func exceptionInside(pm *patternmatcher.PatternMatcher, rel string) bool {
	if !pm.Exclusions() {
		return false
	}
	dirSlash := rel + string(filepath.Separator)
	for _, p := range pm.Patterns() {
		if p.Exclusion() && strings.HasPrefix(p.String()+string(filepath.Separator), dirSlash) {
			return true
		}
	}
	return false
}

// tarMode is the permission and setuid/setgid/sticky bits of a tar header.
func tarMode(fi fs.FileInfo) int64 {
	m := int64(fi.Mode().Perm())
	if fi.Mode()&fs.ModeSetuid != 0 {
		m |= 0o4000
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		m |= 0o2000
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	return m
}

// writeContextTar writes the build context of dir to w as the engine gets
// it: the entries walkContext keeps, owned by root, every time set to the
// epoch, so that what a COPY puts in a layer depends on content and mode
// only (the classic builder keeps the mtimes it is sent); plus an extra
// Dockerfile, listed in the .dockerignore sent along.
func writeContextTar(w io.Writer, dir string, df *dockerfile, skips []string) error {
	tw := tar.NewWriter(w)
	sawIgnore := false
	err := walkContext(dir, df, skips, func(rel, abs string, fi fs.FileInfo, walked bool) error {
		if walked {
			return nil
		}
		hdr := &tar.Header{Name: rel, Mode: tarMode(fi), ModTime: epoch}
		switch {
		case fi.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, rel+"/"
			return tw.WriteHeader(hdr)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(abs)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
			return tw.WriteHeader(hdr)
		}
		if rel == ".dockerignore" && df.extra {
			content, err := os.ReadFile(abs)
			if err != nil {
				return err
			}
			sawIgnore = true
			return writeTarFile(tw, hdr, append(content, "\n"+df.name+"\n"...))
		}
		return copyTarFile(tw, hdr, abs)
	})
	if err != nil {
		return err
	}
	if df.extra {
		if !sawIgnore {
			if err := writeTarFile(tw, &tar.Header{Name: ".dockerignore", Mode: 0o644, ModTime: epoch}, []byte(df.name+"\n")); err != nil {
				return err
			}
		}
		if err := writeTarFile(tw, &tar.Header{Name: df.name, Mode: 0o644, ModTime: epoch}, df.content); err != nil {
			return err
		}
	}
	return tw.Close()
}

// copyTarFile streams one file into the tar; its size is taken from the
// open file, and a file that shrinks while being read is an error.
func copyTarFile(tw *tar.Writer, hdr *tar.Header, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, fi.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func writeTarFile(tw *tar.Writer, hdr *tar.Header, content []byte) error {
	hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(content))
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := io.Copy(tw, bytes.NewReader(content))
	return err
}
