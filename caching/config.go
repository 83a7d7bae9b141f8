package caching

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"planet/internal/hlc"
)

// Policy is what the cache evicts when it is over its memory limit
// (Redis's maxmemory-policy).
type Policy string

// The eviction policies, named as Redis names them.
const (
	// AllKeysLRU evicts the least recently used of 5 sampled keys.
	AllKeysLRU Policy = "allkeys-lru"
	// VolatileLRU evicts as AllKeysLRU among the keys with a TTL only.
	VolatileLRU Policy = "volatile-lru"
	// AllKeysRandom evicts a random key.
	AllKeysRandom Policy = "allkeys-random"
	// NoEviction evicts nothing: commands that may grow memory fail
	// with -OOM while the cache is over its limit.
	NoEviction Policy = "noeviction"
)

// DefaultPolicy is Redis's default when a limit is set.
const DefaultPolicy = AllKeysLRU

// DefaultPort is the cache's RESP port.
const DefaultPort = 10300

// ParsePolicy returns the Policy named s (as Redis names it).
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case AllKeysLRU, VolatileLRU, AllKeysRandom, NoEviction:
		return p, nil
	}
	return "", fmt.Errorf("caching: unknown maxmemory-policy %q (want allkeys-lru, volatile-lru, allkeys-random or noeviction)", s)
}

// Config configures a Server.
type Config struct {
	// BindHost is the address the RESP port listens on; empty means
	// 127.0.0.1.
	BindHost string
	// Port is the RESP port; 0 means DefaultPort, -1 a free port (tests).
	Port int
	// Node is the replica id stamped on versions ("sfo-10300", see
	// hlc.NodeID); empty means "local-<port>".
	Node string
	// MaxMemory is the memory limit in bytes, as entries are accounted
	// (see EntryOverhead); 0 means no limit.
	MaxMemory int64
	// Policy is the eviction policy; empty means DefaultPolicy.
	Policy Policy
	// Logger receives the server's events; nil discards them.
	Logger *slog.Logger
	// Now is the wall clock for TTLs and versions; nil means time.Now.
	Now func() time.Time
}

// fillDefaults replaces the zero fields of c by their defaults.
func (c *Config) fillDefaults() {
	if c.BindHost == "" {
		c.BindHost = "127.0.0.1"
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.Node == "" {
		c.Node = hlc.NodeID("local", max(c.Port, 0))
	}
	if c.Policy == "" {
		c.Policy = DefaultPolicy
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// validate reports a Config that New refuses.
func (c *Config) validate() error {
	if c.MaxMemory < 0 {
		return errors.New("caching: Config.MaxMemory is negative")
	}
	if c.Port < -1 || c.Port > 65535 {
		return fmt.Errorf("caching: Config.Port %d is out of range", c.Port)
	}
	if _, err := ParsePolicy(string(c.Policy)); err != nil {
		return err
	}
	if err := hlc.ValidNode(c.Node); err != nil {
		return fmt.Errorf("caching: Config.Node: %w", err)
	}
	return nil
}
