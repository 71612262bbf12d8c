package cli

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/sbom"
	"github.com/ladderhq/ladder/internal/sign"
	"github.com/ladderhq/ladder/internal/snapshot"
)

// Where signing material lives: the public key is committed with the
// project (everyone verifies), the private key stays out of it.
const publicKeyFile = "ladder.pub"

func (w *workspace) publicKeyPath() string { return filepath.Join(w.project.Dir, publicKeyFile) }

func (w *workspace) privateKeyPath() string {
	if p := os.Getenv("LADDER_SIGNING_KEY"); p != "" {
		return p
	}
	return filepath.Join(w.stateDir, "keys", "signing.key")
}

func (w *workspace) signatureDir() string { return filepath.Join(w.stateDir, "signatures") }
func (w *workspace) sbomDir() string      { return filepath.Join(w.stateDir, "artifacts", "sbom") }

// signingPasswordEnv holds the password of the private signing key.
const signingPasswordEnv = "LADDER_SIGNING_PASSWORD"

func signingPassword() []byte { return []byte(os.Getenv(signingPasswordEnv)) }

// verifier checks a snapshot's record, its signature with a key the store
// trusts (see trustedKeys), every artifact's bytes against its digest, and
// every artifact's unpacked tree (the process target's) against its image.
func (a *app) verifier(ws *workspace) func(*snapshot.Snapshot) error {
	return func(s *snapshot.Snapshot) error {
		if err := s.Verify(); err != nil {
			return err
		}
		keys, err := a.trustedKeys(context.Background(), ws)
		if err != nil {
			return err
		}
		sig, err := sign.LoadSignature(ws.signatureDir(), s.ID)
		if errors.Is(err, sign.ErrUnsigned) {
			return fmt.Errorf("snapshot %s is not signed: ladder sign %s", snapshot.Short(s.ID), snapshot.Short(s.ID))
		}
		if err != nil {
			return err
		}
		if err := verifyTrusted(s, sig, keys); err != nil {
			return err
		}
		for _, name := range s.Services() {
			digest := s.Artifacts[name].Digest
			img, err := ws.builder.Image(digest)
			if err != nil {
				return fmt.Errorf("service %s: %w", name, err)
			}
			if err := sign.VerifyImageDigest(img, digest); err != nil {
				return fmt.Errorf("service %s: artifact %s: %w", name, snapshot.Short(digest), err)
			}
			// The process target runs the unpacked tree, not the image:
			// a file replaced there must fail verification too.
			if _, err := ws.builder.CheckRootfs(context.Background(), digest); err != nil {
				return fmt.Errorf("service %s: %w", name, err)
			}
		}
		return nil
	}
}

// signIfKey signs a new snapshot when this machine holds the signing key,
// and writes an SBOM for every Go artifact that has none yet.
func (a *app) sealSnapshot(ctx context.Context, ws *workspace, made *deploy.Made, out *printer) error {
	for _, name := range made.Snapshot.Services() {
		art := made.Snapshot.Artifacts[name]
		if art.Builder != "go" {
			continue
		}
		if path, err := sbom.Path(ws.sbomDir(), art.Digest); err == nil {
			if _, err := os.Stat(path); err == nil {
				continue // written when the artifact was first snapshotted
			}
		}
		bin, err := imageFile(ws, art.Digest, "app")
		if err != nil {
			return fmt.Errorf("SBOM of %s: %w", name, err)
		}
		bom, err := sbom.ForGoBinary(name, art.Digest, bin)
		if err != nil {
			return fmt.Errorf("SBOM of %s: %w", name, err)
		}
		if err := sbom.Write(ws.sbomDir(), art.Digest, bom); err != nil {
			return err
		}
	}
	keyPEM, err := os.ReadFile(ws.privateKeyPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := sign.LoadSignature(ws.signatureDir(), made.Snapshot.ID); err == nil {
		return nil
	}
	signer, err := sign.LoadPrivateKey(keyPEM, signingPassword())
	if errors.Is(err, sign.ErrWrongPassword) {
		if _, set := os.LookupEnv(signingPasswordEnv); !set {
			// Not a wrong password: none was given (a key made with
			// --no-password would have opened above).
			return fmt.Errorf("signing key %s: %s is not set: set it to the key's password to sign", ws.privateKeyPath(), signingPasswordEnv)
		}
	}
	if err != nil {
		return fmt.Errorf("signing key %s: %w (%s)", ws.privateKeyPath(), err, signingPasswordEnv)
	}
	sig, err := sign.Sign(made.Snapshot, signer)
	if err != nil {
		return err
	}
	if err := sign.SaveSignature(ws.signatureDir(), sig); err != nil {
		return err
	}
	out.printf("signed snapshot %s with key %s\n", snapshot.Short(sig.Snapshot), sig.KeyID[:12])
	return nil
}

// imageFile reads one file from an artifact's image, without unpacking
// the image to disk.
func imageFile(ws *workspace, digest, name string) ([]byte, error) {
	img, err := ws.builder.Image(digest)
	if err != nil {
		return nil, err
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("image %s has no /%s: %w", snapshot.Short(digest), name, err)
		}
		if strings.TrimPrefix(hdr.Name, "/") == name {
			return io.ReadAll(tr)
		}
	}
}
