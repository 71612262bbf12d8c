package build

import (
	"archive/tar"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/ladderhq/ladder/internal/spec"
)

// maxStaticBinary bounds the one file StaticBinary reads into memory.
const maxStaticBinary = 512 << 20

// StaticBinary reports whether img is a static single binary: its
// filesystem holds exactly one regular file, that file is what the image
// runs (its entrypoint, or command without one), and it is an ELF
// executable with no program interpreter, so it needs nothing from the
// image to run. Such an artifact runs natively on the process target;
// any other image (a distribution, an interpreter, a dynamically linked
// program) needs a container.
func StaticBinary(img v1.Image) (bool, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return false, err
	}
	argv := append(append([]string(nil), cf.Config.Entrypoint...), cf.Config.Cmd...)
	if len(argv) == 0 || !path.IsAbs(argv[0]) {
		return false, nil
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var name string
	static := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false, fmt.Errorf("reading the image's files: %w", err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		default:
			return false, nil // links, devices: more than one binary
		}
		if name != "" || h.Size > maxStaticBinary {
			return false, nil
		}
		name = "/" + strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if name != path.Clean(argv[0]) {
			return false, nil
		}
		if static, err = staticELF(tr, h.Size); err != nil {
			return false, fmt.Errorf("reading %s: %w", name, err)
		}
	}
	return name != "" && static, nil
}

// maxProgramHeaders bounds how far into a file staticELF reads: the ELF
// header and program headers come first in what linkers write.
const maxProgramHeaders = 1 << 20

// staticELF reports whether the file r reads (size bytes) is an ELF
// executable without a program interpreter. It reads the ELF header and
// the program headers only, not the whole binary; anything that is not
// such an ELF file (a script) is false, not an error.
func staticELF(r io.Reader, size int64) (bool, error) {
	var ident [elf.EI_NIDENT]byte
	if _, err := io.ReadFull(r, ident[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return false, nil
		}
		return false, err
	}
	if string(ident[:4]) != elf.ELFMAG {
		return false, nil
	}
	var bo binary.ByteOrder
	switch elf.Data(ident[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		bo = binary.LittleEndian
	case elf.ELFDATA2MSB:
		bo = binary.BigEndian
	default:
		return false, nil
	}
	var (
		typ                elf.Type
		phoff              uint64
		phentsize, phnum   uint16
		headerSize, pentry int
	)
	switch elf.Class(ident[elf.EI_CLASS]) {
	case elf.ELFCLASS64:
		var h elf.Header64
		headerSize, pentry = binary.Size(h), binary.Size(elf.Prog64{})
		if err := readAfterIdent(r, bo, &h); err != nil {
			return false, nil
		}
		typ, phoff, phentsize, phnum = elf.Type(h.Type), h.Phoff, h.Phentsize, h.Phnum
	case elf.ELFCLASS32:
		var h elf.Header32
		headerSize, pentry = binary.Size(h), binary.Size(elf.Prog32{})
		if err := readAfterIdent(r, bo, &h); err != nil {
			return false, nil
		}
		typ, phoff, phentsize, phnum = elf.Type(h.Type), uint64(h.Phoff), h.Phentsize, h.Phnum
	default:
		return false, nil
	}
	if typ != elf.ET_EXEC && typ != elf.ET_DYN {
		return false, nil
	}
	if phoff > maxProgramHeaders {
		return false, nil // and end cannot wrap around below
	}
	end := phoff + uint64(phentsize)*uint64(phnum)
	if phoff < uint64(headerSize) || int(phentsize) < pentry || end > uint64(size) || end > maxProgramHeaders {
		return false, nil // not what a linker writes: not run natively
	}
	// The program headers, from where the ELF header ended.
	rest := make([]byte, end-uint64(headerSize))
	if _, err := io.ReadFull(r, rest); err != nil {
		return false, nil
	}
	for i := range uint64(phnum) {
		off := phoff - uint64(headerSize) + i*uint64(phentsize)
		// p_type is the first word of both program header layouts.
		if elf.ProgType(bo.Uint32(rest[off:])) == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// readAfterIdent reads the rest of an ELF header into h (an elf.Header32
// or elf.Header64) once its identification bytes were read.
func readAfterIdent(r io.Reader, bo binary.ByteOrder, h any) error {
	full := make([]byte, binary.Size(h))
	if _, err := io.ReadFull(r, full[elf.EI_NIDENT:]); err != nil {
		return err
	}
	_, err := binary.Decode(full, bo, h)
	return err
}

// ContainerServices returns, before anything is built, the services whose
// artifacts will not be static single binaries, sorted: those that run an
// image ladder does not build (image: without build:), and Dockerfile
// builds whose target stage does not start FROM scratch. A Go build, and
// a Dockerfile that ends FROM scratch (commonly a binary copied from a
// builder stage), are expected to be static; which side such a service
// runs on is settled from its artifact (StaticBinary) when it deploys.
func ContainerServices(stack *spec.Stack) []string {
	if stack == nil || stack.Compose == nil {
		return nil
	}
	proj := stack.Compose
	base := stackBase(stack)
	var names []string
	for name, svc := range proj.Services {
		switch {
		case svc.Build == nil:
			if svc.Image != "" {
				names = append(names, name)
			}
		default:
			if !fromScratch(name, svc, base, proj.Secrets) {
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	return names
}

// fromScratch reports whether a service's build is a Go build or a
// Dockerfile whose target stage is built FROM scratch (through the stages
// it is built from).
func fromScratch(name string, svc types.ServiceConfig, base string, secrets types.Secrets) bool {
	j, err := planService(name, svc, base, secrets)
	if err != nil {
		return false
	}
	if j.docker == nil {
		return true
	}
	df, err := j.docker.read(j.context)
	if err != nil {
		return false
	}
	g, err := parseStages(df.content, j.docker.args)
	if err != nil {
		return false
	}
	i := g.targetIndex(j.docker.target)
	for seen := 0; i >= 0 && seen <= len(g.stages); seen++ {
		b := g.expand(g.stages[i].BaseName)
		if strings.EqualFold(b, "scratch") {
			return true
		}
		j, ok := g.byName[strings.ToLower(b)]
		if !ok || j >= i {
			return false
		}
		i = j
	}
	return false
}

// TargetProblems returns, before anything is built, the services whose
// build.target names no stage of their Dockerfile, each with the message
// a build would fail with: validate reports them at the field, so an
// unknown stage never first shows up at build time. A Dockerfile that
// cannot be read or parsed is left to the build, which reports it with
// its context.
func TargetProblems(stack *spec.Stack) map[string]string {
	if stack == nil || stack.Compose == nil {
		return nil
	}
	proj := stack.Compose
	base := stackBase(stack)
	out := map[string]string{}
	for name, svc := range proj.Services {
		if svc.Build == nil || svc.Build.Target == "" {
			continue
		}
		j, err := planService(name, svc, base, proj.Secrets)
		if err != nil || j.docker == nil {
			continue
		}
		df, err := j.docker.read(j.context)
		if err != nil {
			continue
		}
		g, err := parseStages(df.content, j.docker.args)
		if err != nil {
			continue
		}
		if g.targetIndex(j.docker.target) < 0 {
			out[name] = fmt.Sprintf("build target %q is not a stage of %s (its stages: %s)", j.docker.target, j.docker.display, g.stageNames())
		}
	}
	return out
}

// IsStaticBinary is StaticBinary for the image of digest, worked out once
// per digest for the builders that share this one's Memo.
func (b *Builder) IsStaticBinary(digest string) (bool, error) {
	if v, ok := b.memo.static.Load(digest); ok {
		return v.(bool), nil
	}
	img, err := b.Image(digest)
	if err != nil {
		return false, err
	}
	static, err := StaticBinary(img)
	if err != nil {
		return false, err
	}
	b.memo.static.Store(digest, static)
	return static, nil
}
