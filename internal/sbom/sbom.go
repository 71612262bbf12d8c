package sbom

import (
	"bytes"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/uuid"

	"github.com/ladderhq/ladder/internal/snapshot"
)

// SpecVersion is the CycloneDX version ladder writes: widely supported by
// scanners and SBOM stores, and new enough for metadata.tools components.
const SpecVersion = cdx.SpecVersion1_6

const schemaURL = "http://cyclonedx.org/schema/bom-1.6.schema.json"

// Property names ladder records, in its own namespace.
const (
	propBuild      = "ladder:go:build:" // + setting key, e.g. GOARCH, -ldflags
	propGoVersion  = "ladder:go:toolchain"
	propModuleSum  = "ladder:go:module:sum"
	propReplaces   = "ladder:go:module:replaces"
	propReplacedBy = "ladder:go:module:replacedBy"
)

// serialNamespace scopes the name-based UUIDs of SBOM serial numbers.
var serialNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://ladder.dev/sbom"))

// ForGoBinary returns the SBOM of a Go service whose image has manifest
// digest imageDigest and whose executable is binary. See FromBuildInfo.
func ForGoBinary(service, imageDigest string, binary []byte) (*cdx.BOM, error) {
	if err := checkArgs(service, imageDigest); err != nil {
		return nil, err
	}
	bi, err := buildinfo.Read(bytes.NewReader(binary))
	if err != nil {
		return nil, fmt.Errorf("sbom for %s: reading Go build info: %w (is it a Go binary?)", service, err)
	}
	return FromBuildInfo(service, imageDigest, bi)
}

// ForGoBinaryFile is ForGoBinary for an executable on disk.
func ForGoBinaryFile(service, imageDigest, path string) (*cdx.BOM, error) {
	if err := checkArgs(service, imageDigest); err != nil {
		return nil, err
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sbom for %s: reading Go build info of %s: %w (is it a Go binary?)", service, path, err)
	}
	return FromBuildInfo(service, imageDigest, bi)
}

// FromBuildInfo builds the SBOM from Go build info. The BOM describes the
// image as an application (purl pkg:oci/<service>@<digest>) that contains
// the main module, which depends on every module linked into the binary
// (purl pkg:golang/<path>@<version>, with the go.sum h1: hash as SHA-256)
// and on the Go standard library of the toolchain that built it
// (pkg:golang/stdlib@<version>, as syft and grype name it). Build info
// records which modules were linked, not which module imports which, so
// the graph is one level deep.
func FromBuildInfo(service, imageDigest string, bi *debug.BuildInfo) (*cdx.BOM, error) {
	if err := checkArgs(service, imageDigest); err != nil {
		return nil, err
	}
	if bi == nil || bi.Main.Path == "" {
		return nil, fmt.Errorf("sbom for %s: the binary has no main module in its build info", service)
	}

	imagePURL := "pkg:oci/" + escape(strings.ToLower(service)) + "@" + escape(imageDigest)
	image := cdx.Component{
		BOMRef:     imagePURL,
		Type:       cdx.ComponentTypeApplication,
		Name:       service,
		Version:    imageDigest,
		PackageURL: imagePURL,
		Hashes:     &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: strings.TrimPrefix(imageDigest, "sha256:")}},
	}

	mainMod := moduleComponent(&bi.Main, cdx.ComponentTypeApplication)
	var settings []cdx.Property
	for _, s := range bi.Settings {
		settings = append(settings, cdx.Property{Name: propBuild + s.Key, Value: s.Value})
	}
	settings = append(settings, cdx.Property{Name: propGoVersion, Value: bi.GoVersion})
	mainMod.Properties = sortedProps(settings)

	std := stdlibComponent(bi.GoVersion)

	components := []cdx.Component{mainMod, std}
	seen := map[string]bool{mainMod.BOMRef: true, std.BOMRef: true}
	var deps []string
	for _, m := range bi.Deps {
		c := moduleComponent(m, cdx.ComponentTypeLibrary)
		if seen[c.BOMRef] {
			continue
		}
		seen[c.BOMRef] = true
		components = append(components, c)
		deps = append(deps, c.BOMRef)
	}
	sort.Slice(components, func(i, j int) bool { return components[i].BOMRef < components[j].BOMRef })
	deps = append(deps, std.BOMRef)
	sort.Strings(deps)

	bom := cdx.NewBOM()
	bom.SpecVersion = SpecVersion
	bom.JSONSchema = schemaURL
	bom.SerialNumber = SerialNumber(service, imageDigest)
	bom.Version = 1
	bom.Metadata = &cdx.Metadata{
		// No timestamp: the SBOM describes the image, whose digest
		// already fixes its content, and must not change between runs.
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: "ladder",
		}}},
		Component: &image,
	}
	bom.Components = &components
	bom.Dependencies = &[]cdx.Dependency{
		{Ref: image.BOMRef, Dependencies: &[]string{mainMod.BOMRef}},
		{Ref: mainMod.BOMRef, Dependencies: &deps},
	}
	return bom, nil
}

func checkArgs(service, imageDigest string) error {
	if service == "" {
		return errors.New("sbom: no service name")
	}
	if !snapshot.ValidDigest(imageDigest) {
		return fmt.Errorf("sbom for %s: %q is not a sha256 image digest", service, imageDigest)
	}
	return nil
}

// SerialNumber returns the BOM serial number for an image: a name-based
// (version 5) UUID of its package URL, so the same image always gets the
// same serial and different images (or services) never share one.
func SerialNumber(service, imageDigest string) string {
	name := "pkg:oci/" + escape(strings.ToLower(service)) + "@" + escape(imageDigest)
	return "urn:uuid:" + uuid.NewSHA1(serialNamespace, []byte(name)).String()
}

// moduleComponent describes one Go module. A module replaced by another
// module version is listed as the replacement (the code actually linked),
// noting what it replaces; one replaced by a local directory keeps its
// own name and notes the directory.
func moduleComponent(m *debug.Module, typ cdx.ComponentType) cdx.Component {
	eff := m
	var props []cdx.Property
	if r := m.Replace; r != nil {
		if r.Version != "" {
			eff = r
			props = append(props, cdx.Property{Name: propReplaces, Value: modString(m)})
		} else {
			props = append(props, cdx.Property{Name: propReplacedBy, Value: r.Path})
		}
	}
	version := eff.Version
	if version == "(devel)" {
		version = ""
	}
	purl := golangPURL(eff.Path, version)
	c := cdx.Component{
		BOMRef:     purl,
		Type:       typ,
		Name:       eff.Path,
		Version:    version,
		PackageURL: purl,
	}
	if eff.Sum != "" {
		props = append(props, cdx.Property{Name: propModuleSum, Value: eff.Sum})
		if h, ok := h1Hex(eff.Sum); ok {
			c.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: h}}
		}
	}
	if len(props) > 0 {
		c.Properties = sortedProps(props)
	}
	return c
}

// stdlibComponent describes the Go standard library and runtime linked
// into every Go binary, versioned by the toolchain that built it.
func stdlibComponent(goVersion string) cdx.Component {
	v := goVersion
	if f := strings.Fields(goVersion); len(f) > 0 {
		v = f[0] // drop experiment suffixes such as "X:nocoverageredesign"
	}
	v = strings.TrimPrefix(v, "go")
	purl := golangPURL("stdlib", v)
	c := cdx.Component{
		BOMRef:      purl,
		Type:        cdx.ComponentTypeLibrary,
		Name:        "stdlib",
		Version:     v,
		Description: "Go standard library and runtime (toolchain " + goVersion + ")",
		PackageURL:  purl,
	}
	if isRelease(v) {
		// The CPE vulnerability databases file Go's own advisories under.
		c.CPE = "cpe:2.3:a:golang:go:" + v + ":-:*:*:*:*:*:*"
	}
	return c
}

// h1Hex turns a go.sum "h1:" hash (base64 SHA-256 of the module's file
// list) into the hex form CycloneDX requires.
func h1Hex(sum string) (string, bool) {
	b64, ok := strings.CutPrefix(sum, "h1:")
	if !ok {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 32 {
		return "", false
	}
	return hex.EncodeToString(raw), true
}

func modString(m *debug.Module) string {
	if m.Version == "" {
		return m.Path
	}
	return m.Path + "@" + m.Version
}

// golangPURL returns pkg:golang/<path>[@<version>], each path segment and
// the version percent-encoded as the purl specification requires.
func golangPURL(path, version string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = escape(s)
	}
	p := "pkg:golang/" + strings.Join(segs, "/")
	if version != "" {
		p += "@" + escape(version)
	}
	return p
}

// escape percent-encodes s for a purl component: everything but
// unreserved characters and ':' (which the purl specification says must
// not be encoded) becomes %XX.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == ':':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// isRelease reports whether v looks like a Go release version ("1.26.8").
func isRelease(v string) bool {
	if v == "" {
		return false
	}
	for _, part := range strings.Split(v, ".") {
		if part == "" || strings.Trim(part, "0123456789") != "" {
			return false
		}
	}
	return strings.Contains(v, ".")
}

func sortedProps(p []cdx.Property) *[]cdx.Property {
	sort.SliceStable(p, func(i, j int) bool { return p[i].Name < p[j].Name })
	return &p
}
