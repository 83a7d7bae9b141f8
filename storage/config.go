package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"planet/discovery/api"
	"planet/discovery/client"
	"planet/internal/secret"
	"planet/storage/engine"
	"planet/storage/wal"
)

// Defaults of Config.
const (
	DefaultPort          = 10600
	DefaultW             = 2
	DefaultR             = 2
	DefaultMaxValue      = 16 << 20
	MaxKey               = 64 << 10
	DefaultQuorumTimeout = 2 * time.Second

	// LargeValue is the size from which a write's quorum deadline grows
	// with the value (see largeWriteTimeout).
	LargeValue = 1 << 20
	// largeValueRate is the transfer rate that the deadline of a large
	// write allows for, in bytes per second, on top of QuorumTimeout:
	// every replica must receive, log, fsync and apply the value. A
	// 16 MiB SET took 0.3-0.8 s on a lone replica, 1.1-1.6 s through a
	// loaded region of three, and about 7 s with the race detector.
	largeValueRate = 2 << 20
)

// largeWriteTimeout is the quorum deadline of writes of LargeValue bytes
// or more: QuorumTimeout plus the time to move the largest value at
// largeValueRate (8 s for 16 MiB). The deadline already counts from when
// the whole command was received; the time goes in logging and applying
// the value on every replica, so it scales with the size. A longer
// deadline costs nothing while a quorum answers: it only delays the
// NOQUORUM of a large write that cannot get one.
func (c *Config) largeWriteTimeout() time.Duration {
	return c.QuorumTimeout + time.Duration(int64(c.MaxValue)*int64(time.Second)/largeValueRate)
}

// Consistency is what a region's quorum reads and writes promise.
type Consistency int

const (
	// Linearizable (the default): with W+R>N, reads and writes of a key are
	// linearizable, as ABD registers. A read whose replicas disagree writes
	// the newest entry back to W replicas before it replies, and a write
	// whose version a replica finds older than its own writes again with a
	// version above it (see the package doc).
	Linearizable Consistency = iota
	// Quorum: W replicas hold a write before OK and a read returns the
	// newest of R answers, repairing stale replicas in the background; a
	// read may return a write still in flight that a later read does not.
	Quorum
)

// ParseConsistency parses "linearizable" or "quorum".
func ParseConsistency(s string) (Consistency, error) {
	switch s {
	case "linearizable":
		return Linearizable, nil
	case "quorum":
		return Quorum, nil
	}
	return 0, errors.New("want linearizable or quorum")
}

func (c Consistency) String() string {
	if c == Quorum {
		return "quorum"
	}
	return "linearizable"
}

// Discovery is what a replica needs of its region's discovery: to
// register itself (heartbeating until ctx ends) and to list the region's
// replicas. *client.Client is one; tests pass a fake (storagetest).
type Discovery interface {
	Register(ctx context.Context, name, addr string) error
	ListLocal(ctx context.Context, name string) ([]api.Instance, error)
}

var _ Discovery = (*client.Client)(nil)

// Config configures one storage replica.
type Config struct {
	// Region is this region's name; it is the origin of the writes this
	// replica coordinates. Required.
	Region string
	// BindHost is the address to listen on. Default 127.0.0.1.
	BindHost string
	// Port is the RESP port. Default 10600; -1 picks a free port (tests).
	Port int
	// AdminPort serves /health and /metrics. Default Port+1000; -1 picks a
	// free port.
	AdminPort int
	// DataDir is the root of on-disk state; the replica uses
	// DataDir/storage-<port>. Required.
	DataDir string
	// Discovery is this region's discovery; nil: a client of
	// DiscoveryAddr.
	Discovery Discovery
	// DiscoveryAddr is this region's discovery, used when Discovery is
	// nil. Default 127.0.0.1:10200.
	DiscoveryAddr string
	// RegisterTTL is the discovery registration TTL. Default 10s.
	RegisterTTL time.Duration
	// W and R are the write and read quorums, the coordinator included.
	// Default 2 and 2.
	W, R int
	// MaxValue is the largest value accepted, in bytes. Default 16 MiB.
	MaxValue int
	// QuorumTimeout bounds a quorum write or read. Default 2s.
	QuorumTimeout time.Duration
	// PeerRefresh is how often the region's replicas are re-read from
	// discovery. Default 1s.
	PeerRefresh time.Duration
	// AntiEntropyInterval is the period of the digest comparison with each
	// peer. Default 10s; negative disables it.
	AntiEntropyInterval time.Duration
	// HintWindow is how long hints for an unreachable peer are kept (as
	// Cassandra's max_hint_window); older ones are dropped and
	// anti-entropy repairs the peer. Default 3h.
	HintWindow time.Duration
	// HintReplayInterval is how often hints are offered to peers that
	// answer again. Default 1s.
	HintReplayInterval time.Duration
	// MaxClockSkew: replicated versions more than this ahead of the local
	// clock are refused, so one bad clock cannot drag every replica's
	// clock into the future. Default 1m.
	MaxClockSkew time.Duration
	// PeerConns is the number of persistent, pipelined connections to
	// each peer replica. Default 1: a connection carries one batch at a
	// time, and the writes that queue meanwhile go in the next, merged
	// (see peer.Client.GoMerged), so a peer fsyncs once per batch; more
	// connections mean smaller batches and more fsyncs for the same load.
	PeerConns int
	// Consistency of quorum reads and writes. Default Linearizable.
	Consistency Consistency
	// Secret is the mesh's platform secret: with it, the internal
	// commands (REPL.*, VVER, MVVER, digests and buckets) run only on a
	// connection authenticated as the platform (AUTH planet <password>),
	// and this replica authenticates so to its peers. Nil: open (dev).
	Secret *secret.Secret
	// Password is the applications' password (Redis's requirepass): a
	// connection must AUTH before any command. Empty: none. CONFIG SET
	// requirepass changes it.
	Password string
	// MaxClients caps the RESP connections (Redis's maxclients). Default
	// 10,000.
	MaxClients int
	// IdleTimeout closes RESP connections idle for longer (Redis's
	// timeout). Default 0: never.
	IdleTimeout time.Duration
	// Pprof serves Go's profiles under /debug/pprof/ on the admin port.
	// Default off.
	Pprof bool
	// Engine settings; Engine.Dir is derived from DataDir and Port.
	Engine engine.Config
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
}

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
	if c.DiscoveryAddr == "" {
		c.DiscoveryAddr = "127.0.0.1:10200"
	}
	if c.RegisterTTL == 0 {
		c.RegisterTTL = 10 * time.Second
	}
	if c.W == 0 {
		c.W = DefaultW
	}
	if c.R == 0 {
		c.R = DefaultR
	}
	if c.MaxValue == 0 {
		c.MaxValue = DefaultMaxValue
	}
	if c.QuorumTimeout == 0 {
		c.QuorumTimeout = DefaultQuorumTimeout
	}
	if c.PeerRefresh == 0 {
		c.PeerRefresh = time.Second
	}
	if c.AntiEntropyInterval == 0 {
		c.AntiEntropyInterval = 10 * time.Second
	}
	if c.HintReplayInterval == 0 {
		c.HintReplayInterval = time.Second
	}
	if c.HintWindow == 0 {
		c.HintWindow = 3 * time.Hour
	}
	if c.PeerConns == 0 {
		c.PeerConns = 1
	}
	if c.MaxClockSkew == 0 {
		c.MaxClockSkew = time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Engine.Now == nil {
		c.Engine.Now = c.Now
	}
	if c.Engine.Logger == nil {
		c.Engine.Logger = c.Logger
	}
}

func (c *Config) validate() error {
	if err := wal.ValidOrigin(c.Region); err != nil {
		return fmt.Errorf("storage: region: %w", err)
	}
	switch {
	case c.DataDir == "":
		return errors.New("storage: no data directory")
	case c.W < 1 || c.R < 1:
		return fmt.Errorf("storage: quorums must be at least 1 (W=%d, R=%d)", c.W, c.R)
	case c.MaxValue < 1:
		return errors.New("storage: max value must be positive")
	case c.Consistency != Linearizable && c.Consistency != Quorum:
		return fmt.Errorf("storage: unknown consistency %d", c.Consistency)
	case c.MaxClients < 0:
		return errors.New("storage: negative MaxClients")
	case c.QuorumTimeout < 0 || c.IdleTimeout < 0 || c.PeerRefresh < 0 || c.HintWindow < 0 || c.HintReplayInterval < 0 || c.MaxClockSkew < 0:
		return errors.New("storage: negative duration")
	}
	return nil
}

// engineDir is where the replica on port keeps its files.
func engineDir(dataDir string, port int) string {
	return filepath.Join(dataDir, "storage-"+strconv.Itoa(port))
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
