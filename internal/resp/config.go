package resp

import (
	"errors"
	"log/slog"
	"time"
)

// Defaults for the zero fields of Config (those of Redis).
const (
	DefaultMaxBulk   = 512 << 20 // bytes
	DefaultMaxArgs   = 1 << 20
	DefaultMaxInline = 64 << 10 // bytes
	// DefaultMaxClients is Redis's maxclients.
	DefaultMaxClients = 10000
)

// Bounds of the limits that CONFIG SET changes, those of Redis.
const (
	maxMaxClients      = 1<<32 - 1 // maxclients
	maxIdleTimeoutSecs = 1<<31 - 1 // timeout, in seconds
	maxIdleTimeout     = maxIdleTimeoutSecs * time.Second
)

// maxLimit bounds the configurable limits so that length arithmetic cannot
// overflow.
const maxLimit = 1 << 40

// Config configures a Server (and a Parser, which uses only the limits).
type Config struct {
	// Addr is the TCP listen address, host:port; port 0 picks a free port.
	Addr string
	// MaxBulk is the largest bulk string accepted in a request, in bytes;
	// 0 means DefaultMaxBulk. A larger one is a protocol error
	// ("invalid bulk length").
	MaxBulk int
	// MaxArgs is the largest argument count of a command; 0 means
	// DefaultMaxArgs. A larger multibulk count is a protocol error
	// ("invalid multibulk length").
	MaxArgs int
	// MaxInline is the longest inline command line, in bytes; 0 means
	// DefaultMaxInline. A longer one is a protocol error
	// ("too big inline request").
	MaxInline int
	// MaxClients caps the connections open at once (Redis's maxclients);
	// 0 means DefaultMaxClients. A connection accepted beyond it is sent
	// "-ERR max number of clients reached" and closed; the others are
	// served as before. Server.SetMaxClients (CONFIG SET maxclients)
	// changes it at run time.
	MaxClients int
	// IdleTimeout closes a connection that sent nothing for that long
	// while none of its commands was in flight (Redis's timeout, which
	// closes silently); 0 means never. A connection waiting for a slow
	// command, or for its replies to be written, is not idle. Rounded up
	// to whole seconds by CONFIG GET timeout; Server.SetIdleTimeout
	// (CONFIG SET timeout) changes it at run time.
	IdleTimeout time.Duration
	// Logger receives connection-level events; nil discards them.
	Logger *slog.Logger
}

// withDefaults returns c with every zero (or negative) limit replaced by its
// default and a nil Logger by a discarding one.
func (c Config) withDefaults() Config {
	if c.MaxBulk <= 0 {
		c.MaxBulk = DefaultMaxBulk
	}
	if c.MaxArgs <= 0 {
		c.MaxArgs = DefaultMaxArgs
	}
	if c.MaxInline <= 0 {
		c.MaxInline = DefaultMaxInline
	}
	c.MaxBulk = min(c.MaxBulk, maxLimit)
	c.MaxArgs = min(c.MaxArgs, maxLimit)
	c.MaxInline = min(c.MaxInline, maxLimit)
	if c.MaxClients <= 0 {
		c.MaxClients = DefaultMaxClients
	}
	c.MaxClients = min(c.MaxClients, maxMaxClients)
	c.IdleTimeout = min(max(c.IdleTimeout, 0), maxIdleTimeout)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate reports a Config that Listen refuses.
func (c Config) validate() error {
	switch {
	case c.Addr == "":
		return errors.New("resp: Config.Addr is empty")
	case c.MaxBulk < 0:
		return errors.New("resp: Config.MaxBulk is negative")
	case c.MaxArgs < 0:
		return errors.New("resp: Config.MaxArgs is negative")
	case c.MaxInline < 0:
		return errors.New("resp: Config.MaxInline is negative")
	case c.MaxClients < 0:
		return errors.New("resp: Config.MaxClients is negative")
	case c.IdleTimeout < 0:
		return errors.New("resp: Config.IdleTimeout is negative")
	}
	return nil
}
