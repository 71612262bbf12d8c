// Package secrets keeps each environment's secrets (database passwords, API
// tokens, ...) encrypted at rest, hands them to the deployer to inject into
// services' environments, and redacts them from everything ladder prints.
//
// # Layout
//
// Every environment ENV has its own key pair, so a leaked dev key exposes
// nothing of staging or prod:
//
//	<project>/secrets/ENV.age    the values: an age-encrypted JSON object
//	                             {"NAME": "value", ...}; safe to commit
//	<project>/secrets/ENV.names  the names only, sorted, one per line, so that
//	                             Names (and "ladder lint") work without a key
//	<project>/secrets/ENV.pub    the environment's age recipient (public key);
//	                             committed, anyone may add a first secret
//	<keys dir>/ENV.key           the identity (private key), mode 0600, never
//	                             in the repository
//
// The keys directory is the one given to Open, else $LADDER_KEYS_DIR, else
// <project>/.ladder/keys (the state directory, which is git-ignored). The
// variable LADDER_KEY_<ENV> (ENV upper-cased, '-' -> '_'), when set, holds
// the identity instead of the file; that is the way to hand a key to CI.
//
// Every file is written atomically (temporary file, then rename), and a key
// file, once written, is never overwritten.
//
// # Why age
//
// filippo.io/age is small, audited and well kept; it does one thing, file
// encryption to public keys (X25519 recipients here), with authenticated
// ciphertext, so a tampered or truncated .age file fails to decrypt rather
// than yielding altered values. Its keys are short text lines, easy to put in
// a file, a password manager or a CI variable, and files can be decrypted by
// hand with the age command-line tool when ladder is not at hand. Public keys
// in the repository let anyone encrypt to an environment while only the
// holders of its private key can read it.
//
// # Redaction
//
// Secret values must never be printed: a Redactor built from them replaces
// every occurrence in strings (Redact) or streams (Writer, WriteCloser; a
// secret split across writes is still caught) with "<redacted>". Logs, diffs,
// JSON output and the dashboard go through one. Errors from this package never
// contain values or key material.
package secrets
