package sbom

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/ladderhq/ladder/internal/atomicfile"
	"github.com/ladderhq/ladder/internal/snapshot"
)

// Encode writes bom to w as indented CycloneDX JSON.
func Encode(bom *cdx.BOM, w io.Writer) error {
	if bom == nil {
		return fmt.Errorf("sbom: no BOM to encode")
	}
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	enc.SetEscapeHTML(false)
	return enc.Encode(bom)
}

// Decode reads a CycloneDX JSON BOM.
func Decode(r io.Reader) (*cdx.BOM, error) {
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(r, cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		return nil, err
	}
	if bom.BOMFormat != cdx.BOMFormat {
		return nil, fmt.Errorf("not a CycloneDX BOM (bomFormat %q)", bom.BOMFormat)
	}
	return &bom, nil
}

// Path returns where the SBOM of the image with digest lives in dir:
// <dir>/<hex>.cdx.json.
func Path(dir, digest string) (string, error) {
	if !snapshot.ValidDigest(digest) {
		return "", fmt.Errorf("sbom: %q is not a sha256 image digest", digest)
	}
	return filepath.Join(dir, strings.TrimPrefix(digest, "sha256:")+".cdx.json"), nil
}

// Write stores bom as the SBOM of the image with digest, atomically.
func Write(dir, digest string, bom *cdx.BOM) error {
	path, err := Path(dir, digest)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := Encode(bom, &buf); err != nil {
		return fmt.Errorf("sbom for image %s: %w", snapshot.Short(digest), err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("sbom for image %s: %w", snapshot.Short(digest), err)
	}
	if err := atomicfile.Write(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("sbom for image %s: %w", snapshot.Short(digest), err)
	}
	return nil
}

// Read loads the SBOM of the image with digest from dir. If there is none
// the error wraps fs.ErrNotExist.
func Read(dir, digest string) (*cdx.BOM, error) {
	path, err := Path(dir, digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sbom for image %s: %w", snapshot.Short(digest), err)
	}
	defer f.Close()
	bom, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("sbom for image %s: %s: %w", snapshot.Short(digest), path, err)
	}
	return bom, nil
}
