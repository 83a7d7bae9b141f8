// Package api holds the discovery HTTP API's wire types and the validation
// rules shared by the server and the client. It uses only the standard
// library, so that any service can import it without pulling in gossip.
package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"planet/internal/config"
)

// Limits on API input.
const (
	MaxNameLen    = 64          // longest service name
	MaxAddressLen = 255         // longest "host:port"
	MinTTL        = time.Second // shortest registration TTL
	MaxTTL        = time.Hour   // longest registration TTL
	MaxBodyBytes  = 64 << 10    // largest request body
	DefaultTTL    = 15 * time.Second
)

// Scope values for GET /v1/services/{name}?scope=.
const (
	ScopeAll   = ""      // every region (list)
	ScopeLocal = "local" // this region only (list_local)
)

// Instance is one registered instance of a service, as the API returns it.
type Instance struct {
	Name     string    `json:"name"`
	Address  string    `json:"address"`
	Region   string    `json:"region"`
	Local    bool      `json:"local"`     // registered in the region that answered
	LastSeen time.Time `json:"last_seen"` // last heartbeat (local) or last confirmation by its region (federated)
}

// Registration is the body of PUT /v1/services/{name}.
type Registration struct {
	Address string `json:"address"`
	TTL     string `json:"ttl"`
}

// Region is one entry of GET /v1/regions: this region, the regions gossip
// knows, and the configured peers (DISCOVERY_PEERS) that are not among
// them.
type Region struct {
	Name    string `json:"name"`    // empty for a configured peer that never joined
	Address string `json:"address"` // gossip (and API) address
	// State is alive, suspect, dead or left for a region gossip knows;
	// joining (not tried yet), unreachable or rejected (it refused our
	// gossip or we refused its: another platform secret) for a
	// configured peer that never joined.
	State string    `json:"state"`
	Local bool      `json:"local"`
	Since time.Time `json:"since"` // when it entered State, as this region saw it
	// Peer is the DISCOVERY_PEERS entry of a peer that is not alive,
	// and Error why the last attempt to join it failed.
	Peer  string `json:"peer,omitempty"`
	Error string `json:"error,omitempty"`
	// SecretFingerprint, on this region's entry, names its platform
	// secret ("none" without one) without revealing it: regions that
	// cannot join each other should compare theirs.
	SecretFingerprint string `json:"secret_fingerprint,omitempty"`
}

// Error is the body of every 4xx/5xx reply.
type Error struct {
	Error string `json:"error"`
}

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid")

// ErrTooLarge is wrapped (with ErrInvalid) when a body exceeds MaxBodyBytes.
var ErrTooLarge = errors.New("body too large")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// ValidateName checks a service name: 1-64 characters of ASCII letters,
// digits, '.', '_' and '-', other than "." and "..". Every valid name is a
// URL path segment as it is: it needs no escaping, and path cleaning (by
// HTTP routers and proxies) does not remove it, so /v1/services/{name}
// reaches it.
func ValidateName(name string) error {
	if name == "" {
		return invalid("empty service name")
	}
	if name == "." || name == ".." {
		return invalid("service name may not be %q", name)
	}
	if len(name) > MaxNameLen {
		return invalid("service name longer than %d characters", MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return invalid("service name may contain only letters, digits, '.', '_' and '-'")
		}
	}
	return nil
}

// ValidateAddress checks an instance address: host:port with an IP or DNS
// host and a port 1-65535, at most 255 characters.
func ValidateAddress(addr string) error {
	if addr == "" {
		return invalid("address missing")
	}
	if len(addr) > MaxAddressLen {
		return invalid("address longer than %d characters", MaxAddressLen)
	}
	if _, err := config.ParseHostPort(addr); err != nil {
		return invalid("address %q: %v", addr, err)
	}
	return nil
}

// ParseTTL checks a registration TTL: a Go duration between MinTTL and MaxTTL.
func ParseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, invalid("ttl missing")
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, invalid("ttl %q is not a duration (use e.g. 15s)", s)
	}
	if d < MinTTL || d > MaxTTL {
		return 0, invalid("ttl %v out of range [%v, %v]", d, MinTTL, MaxTTL)
	}
	return d, nil
}

// DecodeRegistration reads a PUT body: exactly one JSON object with a valid
// address and ttl and no other fields.
func DecodeRegistration(r io.Reader) (address string, ttl time.Duration, err error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxBodyBytes+1))
	var tooBig *http.MaxBytesError
	if len(body) > MaxBodyBytes || errors.As(err, &tooBig) {
		return "", 0, fmt.Errorf("%w: %w: limit is %d bytes", ErrInvalid, ErrTooLarge, MaxBodyBytes)
	}
	if err != nil {
		return "", 0, invalid("reading body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var reg Registration
	if err := dec.Decode(&reg); err != nil {
		return "", 0, invalid("body is not a registration object: %v", err)
	}
	if err := dec.Decode(&json.RawMessage{}); err != io.EOF {
		return "", 0, invalid("body has data after the JSON object")
	}
	if err := ValidateAddress(reg.Address); err != nil {
		return "", 0, err
	}
	ttl, err = ParseTTL(reg.TTL)
	if err != nil {
		return "", 0, err
	}
	return reg.Address, ttl, nil
}
