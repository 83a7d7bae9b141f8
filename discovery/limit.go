package discovery

import (
	"net"
	"sync"
	"sync/atomic"
)

// connLimiter caps the connections open on the discovery port, across its
// listeners and whatever they turn out to carry (HTTP or gossip streams).
// A connection over the cap is closed as soon as it is accepted, before
// anything is read from it, so that a flood costs one accept and one close
// each while the connections already open keep being served.
type connLimiter struct {
	max      int64
	open     atomic.Int64
	rejected func() // called for each connection closed at the cap
}

// admit returns c wrapped so that closing it frees its place, or nil
// (having closed c) when the cap is reached.
func (l *connLimiter) admit(c net.Conn) net.Conn {
	if l.open.Add(1) > l.max {
		l.open.Add(-1)
		c.Close()
		l.rejected()
		return nil
	}
	return &limitedConn{Conn: c, limiter: l}
}

// limitedConn frees its place in the limiter when first closed.
type limitedConn struct {
	net.Conn
	limiter *connLimiter
	once    sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.limiter.open.Add(-1) })
	return err
}
