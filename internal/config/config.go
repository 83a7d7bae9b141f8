// Package config parses and validates the settings that every Planet service
// reads from region.env (through environment variables or flags). Each parser
// returns a plain reason; Invalid wraps it with the variable's name so that a
// service can stop at start with one line that an operator can act on.
package config

import (
	"errors"
	"fmt"
	"net"
	"planet/internal/hlc"
	"strconv"
	"strings"
	"time"
)

// ExitCode is the process exit code for bad configuration.
const ExitCode = 2

// Error is a configuration value that cannot be used.
type Error struct {
	Var   string // environment variable, e.g. "REGION"
	Value string // the value as given
	Err   error  // what is wrong with it
}

func (e *Error) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("invalid %s: %v", e.Var, e.Err)
	}
	return fmt.Sprintf("invalid %s=%q: %v", e.Var, e.Value, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Invalid returns an *Error for variable name and value, or nil if err is nil.
func Invalid(name, value string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Var: name, Value: value, Err: err}
}

// ErrRequired is the reason given for a required variable that is unset.
var ErrRequired = errors.New("required but not set")

// MaxRegionLen is the longest region name accepted.
const MaxRegionLen = hlc.MaxRegionLen

// ParseRegion checks a region name with the code base's one rule,
// hlc.ValidRegion: 1 to 32 lowercase ASCII letters or digits, starting
// with a letter.
func ParseRegion(s string) (string, error) {
	if s == "" {
		return "", ErrRequired
	}
	if err := hlc.ValidRegion(s); err != nil {
		return "", err
	}
	return s, nil
}

// ParseIP parses an IPv4 or IPv6 address (not a host name).
func ParseIP(s string) (net.IP, error) {
	if s == "" {
		return nil, ErrRequired
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return nil, errors.New("not an IP address")
	}
	return ip, nil
}

// ParsePort parses a TCP/UDP port number, 1-65535.
func ParsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, errors.New("not a port number (1-65535)")
	}
	return p, nil
}

// ParseHostPort checks "host:port" where host is an IP or a DNS name and port
// is 1-65535. It returns the value unchanged.
func ParseHostPort(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", errors.New("not host:port")
	}
	if host == "" {
		return "", errors.New("not host:port: empty host")
	}
	if net.ParseIP(host) == nil && !validHostname(host) {
		return "", fmt.Errorf("not host:port: bad host %q", host)
	}
	if _, err := ParsePort(port); err != nil {
		return "", fmt.Errorf("not host:port: %v", err)
	}
	return s, nil
}

func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// ParsePeers parses a comma-separated list of host:port entries. Blanks
// around entries are ignored; an empty string is an empty list.
func ParsePeers(s string) ([]string, error) {
	var peers []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, err := ParseHostPort(p); err != nil {
			return nil, fmt.Errorf("entry %q: %v", p, err)
		}
		peers = append(peers, p)
	}
	return peers, nil
}

// ParseDuration parses a Go duration ("15s", "1m30s") within [min, max].
func ParseDuration(s string, min, max time.Duration) (time.Duration, error) {
	if s == "" {
		return 0, ErrRequired
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("not a duration (use e.g. 15s, 1m)")
	}
	if d < min || d > max {
		return 0, fmt.Errorf("must be between %v and %v", min, max)
	}
	return d, nil
}

// IsLoopback reports whether host (an IP or "localhost") is a loopback
// address, which only this machine reaches.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
