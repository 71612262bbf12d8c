// Package sign signs snapshots and checks them before they reach a
// protected environment.
//
// A snapshot (internal/snapshot) is content-addressed: its ID is a hash of
// the stack and of every service's image digest. Signing the ID alone would
// be enough in principle, but the signed payload also spells out the stack,
// stack hash and each artifact digest, so a refusal can say which service
// differs, and a signature can be read and audited without ladder.
//
// Three independent checks guard a deploy:
//
//   - Verify: the signature over the payload verifies with a trusted public
//     key, the payload names exactly this snapshot (ID, stack, stack hash,
//     every service digest), and the snapshot's content still matches its ID.
//   - LoadSignature: a snapshot with no signature on disk fails with an error
//     wrapping ErrUnsigned, so protected environments can refuse it.
//   - VerifyImageDigest / VerifyImage: the image's manifest hashes to the
//     digest the snapshot pins, and its config and every layer hash to the
//     digests the manifest records, so a byte changed in the OCI layout
//     after the build is caught.
//
// Why these libraries: keys are cosign-compatible so teams can reuse the
// keys, tooling and habits they already have. Rather than reimplement key
// encryption or signature encodings, the package uses what cosign itself
// uses: github.com/sigstore/sigstore (pkg/signature for signing and
// verifying, pkg/cryptoutils for PEM encoding) and
// github.com/secure-systems-lab/go-securesystemslib/encrypted (scrypt key
// derivation and NaCl secretbox, the "ENCRYPTED SIGSTORE PRIVATE KEY"
// format). Image integrity uses go-containerregistry's validate package,
// the library ladder already builds and stores images with.
package sign
