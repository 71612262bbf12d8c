package sign

import (
	"crypto"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// PEM block types of encrypted private keys. cosign writes the sigstore
// type today; keys made by older cosign releases carry the cosign type.
const (
	PrivateKeyPEMType       = string(cryptoutils.EncryptedSigstorePrivateKeyPEMType) // "ENCRYPTED SIGSTORE PRIVATE KEY"
	CosignPrivateKeyPEMType = "ENCRYPTED COSIGN PRIVATE KEY"
	PublicKeyPEMType        = string(cryptoutils.PublicKeyPEMType) // "PUBLIC KEY"
)

// ErrWrongPassword is returned by LoadPrivateKey when the key cannot be
// decrypted with the password given.
var ErrWrongPassword = errors.New("wrong password for the private key (or the key file is damaged)")

// GenerateKeyPair makes a new ECDSA P-256 key pair in cosign's format: the
// private key is PKCS#8 DER encrypted with password (scrypt + NaCl
// secretbox) in an "ENCRYPTED SIGSTORE PRIVATE KEY" PEM block; the public
// key is a PKIX "PUBLIC KEY" PEM block. An empty password is allowed, as
// cosign allows it, but the key is still written encrypted; `ladder keys
// generate` asks for --no-password before it makes such a key.
func GenerateKeyPair(password []byte) (privPEM, pubPEM []byte, err error) {
	if password == nil {
		// A nil password would make sigstore write the key unencrypted.
		password = []byte{}
	}
	privPEM, pubPEM, err = cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(), cryptoutils.StaticPasswordFunc(password))
	if err != nil {
		return nil, nil, fmt.Errorf("generating key pair: %w", err)
	}
	return privPEM, pubPEM, nil
}

// LoadPrivateKey decrypts a cosign-format private key with password and
// returns a signer for it. Both the "ENCRYPTED SIGSTORE PRIVATE KEY" and
// the older "ENCRYPTED COSIGN PRIVATE KEY" block types are accepted;
// unencrypted keys are refused, since a signing key for protected
// environments must not sit on disk in the clear.
func LoadPrivateKey(pemBytes, password []byte) (signature.SignerVerifier, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("loading private key: no PEM block found (is this a cosign private key file?)")
	}
	switch block.Type {
	case PrivateKeyPEMType, CosignPrivateKeyPEMType:
	default:
		return nil, fmt.Errorf("loading private key: PEM block is %q, want %q or %q (an encrypted cosign key)",
			block.Type, PrivateKeyPEMType, CosignPrivateKeyPEMType)
	}
	if !json.Valid(block.Bytes) {
		return nil, errors.New("loading private key: the encrypted key is malformed")
	}
	if password == nil {
		password = []byte{}
	}
	der, err := encrypted.Decrypt(block.Bytes, password)
	if err != nil {
		return nil, fmt.Errorf("loading private key: %w", ErrWrongPassword)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("loading private key: decrypted key is not PKCS#8: %w", err)
	}
	sv, err := signature.LoadDefaultSignerVerifier(priv)
	if err != nil {
		return nil, fmt.Errorf("loading private key: %w", err)
	}
	return sv, nil
}

// LoadPublicKey parses a PEM "PUBLIC KEY" (as written by GenerateKeyPair or
// cosign generate-key-pair) and returns a verifier for it.
func LoadPublicKey(pemBytes []byte) (signature.Verifier, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("loading public key: %w", err)
	}
	v, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		return nil, fmt.Errorf("loading public key: %w", err)
	}
	return v, nil
}

// KeyID returns the hex SHA-256 of the public key's PKIX DER encoding: a
// short, stable name for a key, recorded with every signature.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := cryptoutils.MarshalPublicKeyToDER(pub)
	if err != nil {
		return "", fmt.Errorf("key id: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// keyIDOf returns the KeyID of a signer's or verifier's public key.
func keyIDOf(p signature.PublicKeyProvider) (string, error) {
	pub, err := p.PublicKey()
	if err != nil {
		return "", fmt.Errorf("key id: %w", err)
	}
	return KeyID(pub)
}

// shortKey is the form of a key ID shown to people.
func shortKey(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// KeyIDOfPEM returns the KeyID of a PEM "PUBLIC KEY", checking that it
// parses as a key ladder can verify with.
func KeyIDOfPEM(pemBytes []byte) (string, error) {
	v, err := LoadPublicKey(pemBytes)
	if err != nil {
		return "", err
	}
	return keyIDOf(v)
}
