package wg

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"planet/internal/secret"
	"planet/regions"
)

// PrivateKey is a WireGuard (Curve25519) private key. Its text form is the
// standard base64 of its 32 bytes, as `wg genkey` prints it.
type PrivateKey [regions.KeyLen]byte

// maxKeyFile bounds what ReadKeyFile and ParsePrivateKey read: a key and a
// newline, with room for blanks.
const maxKeyFile = 1 << 10

// ErrKeyFileExists is returned by WriteKeyFile for a path that exists.
var ErrKeyFileExists = errors.New("wg: key file exists")

// GeneratePrivateKey returns a new random private key, clamped as
// Curve25519 requires.
func GeneratePrivateKey() (PrivateKey, error) {
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		return PrivateKey{}, fmt.Errorf("wg: generating a key: %w", err)
	}
	return PrivateKey(k), nil
}

// ParsePrivateKey parses the base64 text of a private key; blanks and
// newlines around it are ignored, as `wg pubkey` does.
func ParsePrivateKey(s string) (PrivateKey, error) {
	k, err := parsePrivateKey(s)
	if err != nil {
		return k, fmt.Errorf("wg: %w", err)
	}
	return k, nil
}

// ReadPrivateKey reads a private key's text from r (at most 1 KiB).
func ReadPrivateKey(r io.Reader) (PrivateKey, error) {
	k, err := readPrivateKey(r)
	if err != nil {
		return k, fmt.Errorf("wg: %w", err)
	}
	return k, nil
}

func parsePrivateKey(s string) (PrivateKey, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != regions.KeyLen {
		return PrivateKey{}, fmt.Errorf("not a private key (want the base64 of %d bytes, as `wg genkey` prints)", regions.KeyLen)
	}
	var k PrivateKey
	copy(k[:], b)
	if k.IsZero() {
		return PrivateKey{}, errors.New("private key is all zeros")
	}
	return k, nil
}

func readPrivateKey(r io.Reader) (PrivateKey, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxKeyFile+1))
	if err != nil {
		return PrivateKey{}, err
	}
	if len(b) > maxKeyFile {
		return PrivateKey{}, fmt.Errorf("private key text longer than %d bytes", maxKeyFile)
	}
	return parsePrivateKey(string(b))
}

// String returns the base64 text form of k.
func (k PrivateKey) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// IsZero reports whether k is all zeros (unset).
func (k PrivateKey) IsZero() bool { return k == PrivateKey{} }

// PublicKey returns the public key of k.
func (k PrivateKey) PublicKey() regions.Key {
	return regions.Key(wgtypes.Key(k).PublicKey())
}

// WriteKeyFile writes k's text and a newline to a new file at path with
// mode 0600. It refuses to overwrite a file (ErrKeyFileExists) and
// removes what it wrote if a write fails.
func WriteKeyFile(path string, k PrivateKey) error {
	err := secret.WriteNewFile(path, []byte(k.String()+"\n"))
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%w: %s; not overwriting it", ErrKeyFileExists, path)
	}
	if err != nil {
		return fmt.Errorf("wg: %w", err)
	}
	return nil
}

// GenerateKeyFile writes a new private key to a new file at path (see
// WriteKeyFile) and returns its public key.
func GenerateKeyFile(path string) (regions.Key, error) {
	k, err := GeneratePrivateKey()
	if err != nil {
		return regions.Key{}, err
	}
	if err := WriteKeyFile(path, k); err != nil {
		return regions.Key{}, err
	}
	return k.PublicKey(), nil
}

// ReadKeyFile reads the private key file at path. It refuses anything but
// a regular file and a file that the group or others may read or write.
func ReadKeyFile(path string) (PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("wg: key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return PrivateKey{}, fmt.Errorf("wg: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return PrivateKey{}, fmt.Errorf("wg: key file %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o066 != 0 {
		return PrivateKey{}, fmt.Errorf("wg: key file %s: mode %04o lets others read it; run chmod 600 %s", path, perm, path)
	}
	k, err := readPrivateKey(f)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("wg: key file %s: %w", path, err)
	}
	return k, nil
}
