// Package secret holds the mesh's platform secret (PLANET_SECRET_FILE): it
// generates and loads the file, and derives from it, each for one use, the
// credentials of the platform's own traffic:
//
//   - APIToken: the Bearer token of discovery's API writes;
//   - RESPPassword: the password of AUTH planet <password>, which opens the
//     internal RESP commands (replication, anti-entropy, region apply);
//   - GossipKey: the AES-256 key of memberlist's keyring.
//
// Derived values are HMAC-SHA256 of the secret with a label per use, so a
// credential that leaks (a token in a proxy's log) reveals neither the
// secret nor the other credentials.
//
// The file holds one line: the secret, 32 to 1024 printable ASCII
// characters without blanks (Generate writes 64 hex digits, 256 bits). It
// must be readable by its owner only: Load refuses a file whose mode gives
// the group or others any access.
package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// Env is the variable that names the secret file in region.env.
const Env = "PLANET_SECRET_FILE"

// PlatformUser is the RESP user name of the platform's own connections:
// AUTH planet <RESPPassword>.
const PlatformUser = "planet"

// Bounds of the secret's text.
const (
	MinLen = 32
	MaxLen = 1024
)

// maxFile bounds what Load reads: the secret, a line end, and slack.
const maxFile = MaxLen + 2

// Secret is a loaded platform secret. The zero value is not valid; a nil
// *Secret means "no secret" (everything open) to the code that takes one.
type Secret struct {
	key []byte
}

// Random returns a new secret of 256 random bits, as Generate writes
// (for tests and tools that keep it in memory).
func Random() *Secret {
	var raw [32]byte
	rand.Read(raw[:]) // never fails (crypto/rand)
	return &Secret{key: []byte(hex.EncodeToString(raw[:]))}
}

// Generate writes a new secret of 256 random bits, as 64 hex digits and a
// newline, to a new file path of mode 0600. It refuses to overwrite an
// existing file.
func Generate(path string) error {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	err := WriteNewFile(path, []byte(hex.EncodeToString(raw[:])+"\n"))
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("secret: %s exists; not overwriting it (remove it first to replace the mesh's secret)", path)
	}
	if err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	return nil
}

// WriteNewFile writes data to a new file of mode 0600 at path and syncs
// it, for secrets and private keys. It never overwrites: if path exists,
// the error wraps os.ErrExist. A failed write leaves no file.
func WriteNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Load reads the secret file at path. It refuses a file that the group or
// others may read, write or execute, anything but a regular file, and a
// text that Parse refuses; each error is one line naming the file.
func Load(path string) (*Secret, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secret file %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("secret file %s: mode %04o lets others read it; run chmod 600 %s", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("secret file %s: %w", path, err)
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("secret file %s: %w", path, err)
	}
	return s, nil
}

// Parse checks the text of a secret file: one line (a final "\n" or "\r\n"
// is allowed) of MinLen to MaxLen printable ASCII characters other than
// space.
func Parse(data []byte) (*Secret, error) {
	if len(data) > maxFile {
		return nil, fmt.Errorf("longer than %d characters", MaxLen)
	}
	text := data
	switch {
	case len(text) >= 2 && text[len(text)-2] == '\r' && text[len(text)-1] == '\n':
		text = text[:len(text)-2]
	case len(text) >= 1 && text[len(text)-1] == '\n':
		text = text[:len(text)-1]
	}
	if len(text) == 0 {
		return nil, errors.New("empty; generate one with: planet secret generate FILE")
	}
	for i, c := range text {
		if c <= ' ' || c > '~' {
			return nil, fmt.Errorf("byte %d is not printable ASCII (one line of %d to %d characters, no blanks)", i+1, MinLen, MaxLen)
		}
	}
	if len(text) < MinLen {
		return nil, fmt.Errorf("%d characters; at least %d needed (planet secret generate FILE writes 64 hex digits)", len(text), MinLen)
	}
	if len(text) > MaxLen {
		return nil, fmt.Errorf("longer than %d characters", MaxLen)
	}
	return &Secret{key: append([]byte(nil), text...)}, nil
}

// derive returns HMAC-SHA256(secret, label).
func (s *Secret) derive(label string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// APIToken is the Bearer token of discovery's API writes.
func (s *Secret) APIToken() string { return hex.EncodeToString(s.derive("planet discovery api v1")) }

// RESPPassword is the password of the platform user on RESP servers.
func (s *Secret) RESPPassword() string {
	return hex.EncodeToString(s.derive("planet resp platform v1"))
}

// GossipKey is the 32-byte key of memberlist's keyring (AES-256-GCM).
func (s *Secret) GossipKey() []byte { return s.derive("planet gossip v1") }

// Fingerprint names the secret in logs and status without revealing it:
// 8 hex digits, equal in every region that holds the same secret.
func (s *Secret) Fingerprint() string {
	return hex.EncodeToString(s.derive("planet fingerprint v1")[:4])
}

// Equal reports, in constant time, whether got is want. For comparing a
// presented password or token with the expected one.
func Equal(got, want string) bool {
	g := sha256.Sum256([]byte(got))
	w := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
