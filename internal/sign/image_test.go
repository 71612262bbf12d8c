package sign

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// writeLayout stores a random image in a fresh OCI layout and returns the
// layout and the image's manifest.
func writeLayout(t *testing.T) (layout.Path, v1.Hash, *v1.Manifest) {
	t.Helper()
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	p, err := layout.Write(t.TempDir(), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return p, d, m
}

func flipByte(t *testing.T, p layout.Path, h v1.Hash) {
	t.Helper()
	name := filepath.Join(string(p), "blobs", h.Algorithm, h.Hex)
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyImage(t *testing.T) {
	tests := []struct {
		name string
		blob func(d v1.Hash, m *v1.Manifest) v1.Hash // nil: leave the layout intact
	}{
		{name: "intact"},
		{name: "flipped byte in first layer", blob: func(_ v1.Hash, m *v1.Manifest) v1.Hash { return m.Layers[0].Digest }},
		{name: "flipped byte in last layer", blob: func(_ v1.Hash, m *v1.Manifest) v1.Hash { return m.Layers[len(m.Layers)-1].Digest }},
		{name: "flipped byte in config", blob: func(_ v1.Hash, m *v1.Manifest) v1.Hash { return m.Config.Digest }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, d, m := writeLayout(t)
			if tt.blob != nil {
				flipByte(t, p, tt.blob(d, m))
			}
			img, err := p.Image(d)
			if err != nil {
				t.Fatal(err)
			}
			for _, check := range []struct {
				name string
				fn   func() error
			}{
				{"VerifyImage", func() error { return VerifyImage(img) }},
				{"VerifyImageDigest", func() error { return VerifyImageDigest(img, d.String()) }},
			} {
				err := check.fn()
				if tt.blob == nil {
					if err != nil {
						t.Errorf("%s of an intact image: %v", check.name, err)
					}
					continue
				}
				if !errors.Is(err, ErrImageAltered) {
					t.Errorf("%s: got %v, want ErrImageAltered", check.name, err)
					continue
				}
				if !strings.Contains(err.Error(), "image "+d.Hex[:12]) {
					t.Errorf("%s: error does not name the image: %v", check.name, err)
				}
			}
		})
	}
}

func TestVerifyImageDigestCatchesManifest(t *testing.T) {
	p, d, _ := writeLayout(t)
	// The manifest is the one blob whose only reference is the digest a
	// snapshot pins: flipping a byte of it still leaves a self-consistent
	// image, which only the pinned digest can expose. Flip a byte inside a
	// JSON string so the manifest still parses.
	name := filepath.Join(string(p), "blobs", d.Algorithm, d.Hex)
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("application/vnd"))
	if i < 0 {
		t.Fatalf("no media type in manifest %s", b)
	}
	b[i] = 'A'
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := p.Image(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyImageDigest(img, d.String()); !errors.Is(err, ErrImageAltered) {
		t.Fatalf("VerifyImageDigest of an altered manifest: got %v, want ErrImageAltered", err)
	}
}
