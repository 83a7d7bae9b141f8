package regions

import (
	"encoding/base64"
	"errors"
	"fmt"
)

// KeyLen is the length of a WireGuard (Curve25519) key in bytes.
const KeyLen = 32

// Key is a WireGuard public key. Its text form is the standard base64
// (with padding) of its 32 bytes, 44 characters, as `wg pubkey` prints it.
type Key [KeyLen]byte

// ParseKey parses the base64 text form of a key. It accepts exactly the
// canonical form that String returns.
func ParseKey(s string) (Key, error) {
	var k Key
	if n := base64.StdEncoding.EncodedLen(KeyLen); len(s) != n {
		return k, fmt.Errorf("key %q: want %d base64 characters, got %d", s, n, len(s))
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != KeyLen || base64.StdEncoding.EncodeToString(b) != s {
		return k, fmt.Errorf("key %q: not the base64 of %d bytes", s, KeyLen)
	}
	copy(k[:], b)
	return k, nil
}

// String returns the base64 text form of k.
func (k Key) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// IsZero reports whether k is all zeros (unset).
func (k Key) IsZero() bool { return k == Key{} }

// MarshalText implements encoding.TextMarshaler (base64).
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (base64).
func (k *Key) UnmarshalText(b []byte) error {
	p, err := ParseKey(string(b))
	if err != nil {
		return err
	}
	*k = p
	return nil
}

var errZeroKey = errors.New("public key is all zeros")
