package caching

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"planet/discovery/api"
	"planet/discovery/client"
	"planet/internal/hlc"
	"planet/internal/secret"
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

// Defaults of Config.
const (
	// DefaultPort is the cache's RESP port.
	DefaultPort = 10300
	// DefaultDiscoveryAddr is where a region's services reach discovery.
	DefaultDiscoveryAddr = "127.0.0.1:10200"
	// ServiceName is the name the cache registers under in discovery.
	ServiceName = "caching"
)

// Discovery is what a cache needs of its region's discovery: to register
// itself, heartbeating until ctx ends, then deregistering; and the caches
// of every region (its peers) and of its own (a warm start's source).
// *client.Client is one; tests pass a fake.
type Discovery interface {
	Register(ctx context.Context, name, addr string) error
	List(ctx context.Context, name string) ([]api.Instance, error)
	ListLocal(ctx context.Context, name string) ([]api.Instance, error)
}

var _ Discovery = (*client.Client)(nil)

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
	// AdminPort serves /health and /metrics; 0 means Port+1000 (a free
	// port when Port is -1), -1 a free port.
	AdminPort int
	// Region is this region's name; empty means "local" (tests).
	Region string
	// Node is the replica id stamped on versions ("sfo-10300", see
	// hlc.NodeID); empty means "<Region>-<port>".
	Node string
	// Discovery is this region's discovery; nil means a client of
	// DiscoveryAddr.
	Discovery Discovery
	// DiscoveryAddr is this region's discovery, used when Discovery is
	// nil; empty means DefaultDiscoveryAddr.
	DiscoveryAddr string
	// RegisterTTL is the discovery registration TTL; 0 means 10s.
	RegisterTTL time.Duration
	// Secret is the mesh's platform secret: with it, a connection may
	// authenticate as the platform (AUTH planet <password>), as the
	// replication between caches will, and the discovery client signs its
	// requests. Nil: no platform user (dev).
	Secret *secret.Secret
	// Password is the applications' password (Redis's requirepass): a
	// connection must AUTH before any command. Empty: none. CONFIG SET
	// requirepass changes it.
	Password string
	// MaxClients caps the RESP connections (Redis's maxclients); 0 means
	// 10,000.
	MaxClients int
	// IdleTimeout closes RESP connections idle for longer (Redis's
	// timeout); 0 means never.
	IdleTimeout time.Duration
	// MaxMemory is the memory limit in bytes, as entries are accounted
	// (see EntryOverhead); 0 means no limit.
	MaxMemory int64
	// Policy is the eviction policy; empty means DefaultPolicy.
	Policy Policy
	// Mode is the replication mode of a write that names none (see
	// PLANET.MODE); ModeDefault means Eventual.
	Mode Mode
	// StrongTimeout bounds how long a quorum or strong write waits for
	// its peers before it fails; 0 means 1s.
	StrongTimeout time.Duration
	// ReplicationQueue is how many records a peer's queue holds; a write
	// that does not fit becomes an invalidation. 0 means 65536.
	ReplicationQueue int
	// PeerTimeout bounds one batch to a peer (its I/O); 0 means 5s.
	PeerTimeout time.Duration
	// PeerRefresh is how often discovery's list of caches is read; 0
	// means 1s.
	PeerRefresh time.Duration
	// TombstoneGrace is how long a deleted key's tombstone is kept past
	// its version's time, and so how late a replicated write may arrive
	// and still be applied as a value (older, it invalidates); 0 means
	// 60s.
	TombstoneGrace time.Duration
	// NoWarmStart skips the warm start: the cache answers at once,
	// empty, rather than first copying a cache of its region.
	NoWarmStart bool
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
	if c.AdminPort == 0 && c.Port > 0 {
		c.AdminPort = c.Port + 1000
	}
	if c.Region == "" {
		c.Region = "local"
	}
	if c.Node == "" {
		c.Node = hlc.NodeID(c.Region, max(c.Port, 0))
	}
	if c.DiscoveryAddr == "" {
		c.DiscoveryAddr = DefaultDiscoveryAddr
	}
	if c.RegisterTTL == 0 {
		c.RegisterTTL = 10 * time.Second
	}
	if c.Policy == "" {
		c.Policy = DefaultPolicy
	}
	if c.Mode == ModeDefault {
		c.Mode = Eventual
	}
	if c.StrongTimeout == 0 {
		c.StrongTimeout = time.Second
	}
	if c.ReplicationQueue == 0 {
		c.ReplicationQueue = 65536
	}
	if c.PeerTimeout == 0 {
		c.PeerTimeout = 5 * time.Second
	}
	if c.PeerRefresh == 0 {
		c.PeerRefresh = time.Second
	}
	if c.TombstoneGrace == 0 {
		c.TombstoneGrace = time.Minute
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
	if c.AdminPort < -1 || c.AdminPort > 65535 {
		return fmt.Errorf("caching: Config.AdminPort %d is out of range", c.AdminPort)
	}
	if c.MaxClients < 0 {
		return errors.New("caching: Config.MaxClients is negative")
	}
	if c.IdleTimeout < 0 || c.RegisterTTL < 0 || c.StrongTimeout < 0 || c.PeerTimeout < 0 || c.PeerRefresh < 0 || c.TombstoneGrace < 0 {
		return errors.New("caching: negative duration")
	}
	if c.ReplicationQueue < 0 {
		return errors.New("caching: Config.ReplicationQueue is negative")
	}
	if c.Mode > Strong {
		return fmt.Errorf("caching: Config.Mode %d is not a mode", c.Mode)
	}
	if _, err := ParsePolicy(string(c.Policy)); err != nil {
		return err
	}
	if err := hlc.ValidNode(c.Node); err != nil {
		return fmt.Errorf("caching: Config.Node: %w", err)
	}
	return nil
}
