package peer

import "time"

// Defaults for the zero fields of Config.
const (
	DefaultConns       = 2
	DefaultMaxBatch    = 256
	DefaultDialTimeout = time.Second
	DefaultIOTimeout   = 5 * time.Second
	DefaultBackoff     = 500 * time.Millisecond
)

// Config tunes a Client. The zero value is ready to use; a zero (or
// negative) field means its default.
type Config struct {
	// Conns is the number of persistent connections to the peer, and so the
	// number of pipelines that can be in flight at once. 0 means DefaultConns.
	Conns int

	// MaxBatch is the most commands sent in one pipeline. 1 turns
	// pipelining off. 0 means DefaultMaxBatch.
	MaxBatch int

	// QueueSize is how many commands may wait for a connection. Do waits
	// for room; Go fails at once with ErrUnavailable when it is full (the
	// peer is not keeping up). 0 means 16 full pipelines per connection.
	QueueSize int

	// DialTimeout bounds establishing one connection. 0 means
	// DefaultDialTimeout.
	DialTimeout time.Duration

	// IOTimeout bounds writing one pipeline and bounds reading all of its
	// replies; a peer slower than this counts as a transport failure. 0 means
	// DefaultIOTimeout.
	IOTimeout time.Duration

	// Backoff is how long, after a transport failure, the client fails fast
	// with ErrUnavailable (without dialling) before it tries the peer again.
	// 0 means DefaultBackoff.
	Backoff time.Duration

	// Username and Password authenticate every connection (AUTH username
	// password, or AUTH password without Username) before its first
	// command: the platform user for replication between replicas. Empty
	// Password: no AUTH.
	Username, Password string
}

// withDefaults returns c with every zero or negative field set to its
// default.
func (c Config) withDefaults() Config {
	if c.Conns <= 0 {
		c.Conns = DefaultConns
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 16 * c.Conns * c.MaxBatch
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.IOTimeout <= 0 {
		c.IOTimeout = DefaultIOTimeout
	}
	if c.Backoff <= 0 {
		c.Backoff = DefaultBackoff
	}
	return c
}
