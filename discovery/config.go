package discovery

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"planet/internal/config"
	"planet/internal/secret"
)

// Config configures a discovery Server. The zero value of every optional
// field means its default (see DefaultConfig).
type Config struct {
	// Region is this region's name (lowercase letters and digits). It is
	// also this instance's gossip node name. Required.
	Region string
	// WGIP is this region's WireGuard address: gossip is advertised on it,
	// and loopback hosts of local registrations are rewritten to it when
	// they leave the region. Required.
	WGIP net.IP
	// BindHost is the address the API and gossip listen on. When it is
	// neither loopback nor unspecified, the API also listens on 127.0.0.1.
	// Default "127.0.0.1".
	BindHost string
	// Port is the API and gossip port (TCP and UDP). Default 10200; -1
	// picks a free port (tests).
	Port int
	// Peers are other regions' discovery instances, "host:port". Peers that
	// are not alive members are joined again every RejoinInterval.
	Peers []string
	// MaxEntries caps the local registry. Default 100,000.
	MaxEntries int

	// PushPullInterval is the period of the full state exchange and of the
	// digest broadcast. Default 5s.
	PushPullInterval time.Duration
	// GossipInterval is how often queued broadcasts are piggybacked to
	// other regions. Default 100ms.
	GossipInterval time.Duration
	// ProbeInterval and ProbeTimeout drive failure detection: an
	// unresponsive region is suspected after a failed probe, and declared
	// dead SuspicionMult probe intervals later (with few regions). Defaults
	// 1.5s, 1s and 4: a dead region is dropped within about 11 s, and a
	// probe allows for a 1 s round trip, six times the widest WAN RTT we
	// plan for.
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	SuspicionMult int
	// RejoinInterval is how often peers that are not alive members are
	// joined again. Default 2s.
	RejoinInterval time.Duration

	// Secret is the mesh's platform secret. With one, API writes need
	// Authorization: Bearer Secret.APIToken(), and gossip is encrypted and
	// authenticated with Secret.GossipKey() (regions with another secret
	// cannot join). Nil: both are open (planet dev); see the package doc.
	Secret *secret.Secret

	// DataDir is the root of on-disk state (DATA_DIR): the local
	// registrations are kept in DataDir/discovery/registrations.json so
	// that a restarted instance serves them at once (see persist.go).
	// Empty: nothing is persisted.
	DataDir string
	// PersistInterval is how often heartbeats (which only move deadlines)
	// are written out, coalesced; registrations and deregistrations are
	// written before they are acknowledged. Default 1s.
	PersistInterval time.Duration

	// MaxConns caps the TCP connections open on the discovery port, HTTP
	// and gossip streams together (like Redis's maxclients); a connection
	// beyond it is closed as soon as it is accepted. Default 10,000.
	MaxConns int
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout bound an
	// HTTP request's headers, its whole read, the reply's write and an idle
	// keep-alive connection. Defaults 10s, 30s, 30s and 2 minutes.
	// Request bodies are bounded separately by api.MaxBodyBytes (64 KiB).
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	// MaxHeaderBytes bounds an HTTP request's headers. Default 64 KiB.
	MaxHeaderBytes int

	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock for TTLs and versions. Default time.Now.
	Now func() time.Time
}

// DefaultPort is the discovery API and gossip port.
const DefaultPort = 10200

// DefaultMaxConns is the default cap on connections to the discovery port.
const DefaultMaxConns = 10_000

// DefaultConfig returns a Config with every default filled in and the
// required fields empty.
func DefaultConfig() Config {
	c := Config{}
	c.fillDefaults()
	return c
}

func (c *Config) fillDefaults() {
	if c.BindHost == "" {
		c.BindHost = "127.0.0.1"
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = 100_000
	}
	if c.PushPullInterval == 0 {
		c.PushPullInterval = 5 * time.Second
	}
	if c.GossipInterval == 0 {
		c.GossipInterval = 100 * time.Millisecond
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = 1500 * time.Millisecond
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = time.Second
	}
	if c.SuspicionMult == 0 {
		c.SuspicionMult = 4
	}
	if c.RejoinInterval == 0 {
		c.RejoinInterval = 2 * time.Second
	}
	if c.PersistInterval == 0 {
		c.PersistInterval = time.Second
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 30 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 64 << 10
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (c *Config) validate() error {
	if _, err := config.ParseRegion(c.Region); err != nil {
		return fmt.Errorf("discovery: region: %w", err)
	}
	if c.WGIP == nil {
		return errors.New("discovery: WireGuard IP required")
	}
	if net.ParseIP(c.BindHost) == nil {
		return fmt.Errorf("discovery: bind host %q is not an IP address", c.BindHost)
	}
	if c.Port < -1 || c.Port > 65535 {
		return fmt.Errorf("discovery: port %d out of range", c.Port)
	}
	for _, p := range c.Peers {
		if _, err := config.ParseHostPort(p); err != nil {
			return fmt.Errorf("discovery: peer %q: %w", p, err)
		}
	}
	if c.MaxConns < 0 || c.MaxHeaderBytes < 0 {
		return errors.New("discovery: connection and header limits must not be negative")
	}
	for _, d := range []time.Duration{c.PersistInterval, c.ReadHeaderTimeout, c.ReadTimeout, c.WriteTimeout, c.IdleTimeout} {
		if d < 0 {
			return errors.New("discovery: intervals and timeouts must not be negative")
		}
	}
	if c.ProbeTimeout >= c.ProbeInterval {
		return errors.New("discovery: probe timeout must be shorter than the probe interval")
	}
	return nil
}
