package resp

import (
	"errors"
	"net"
	"os"
	"time"
)

// maxClientsReply is Redis's reply to a connection beyond maxclients.
var maxClientsReply = AppendError(nil, "ERR max number of clients reached")

// refuseWriteTimeout bounds the write of maxClientsReply. A new socket's
// send buffer has room for it, so the write does not wait in practice.
const refuseWriteTimeout = 100 * time.Millisecond

// refuse answers a connection beyond MaxClients and closes it.
func (s *Server) refuse(nc net.Conn) {
	n := s.rejected.Add(1)
	nc.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
	nc.Write(maxClientsReply)
	nc.Close()
	s.log.Debug("connection refused: max number of clients reached", "remote", nc.RemoteAddr(), "rejected", n)
}

// MaxClients returns the number of connections served at once (Config.MaxClients).
func (s *Server) MaxClients() int { return int(s.maxClients.Load()) }

// SetMaxClients changes MaxClients; n is at least 1. Open connections
// beyond it stay open; new ones are refused until the count is below n.
func (s *Server) SetMaxClients(n int) error {
	if n < 1 || n > maxMaxClients {
		return errors.New("argument must be between 1 and 4294967295 inclusive")
	}
	s.maxClients.Store(int64(n))
	return nil
}

// RejectedConnections returns the number of connections refused because
// MaxClients were open (INFO's rejected_connections).
func (s *Server) RejectedConnections() int64 { return s.rejected.Load() }

// TotalConnections returns the number of connections accepted since the
// server started (INFO's total_connections_received).
func (s *Server) TotalConnections() int64 { return int64(s.lastID.Load()) }

// IdleTimeout returns the time after which an idle connection is closed
// (Config.IdleTimeout); 0 means never.
func (s *Server) IdleTimeout() time.Duration { return time.Duration(s.idleTimeout.Load()) }

// SetIdleTimeout changes IdleTimeout, for open connections too: each
// counts its idle time from its latest input, or from the change if the
// timeout was 0 when that input came.
func (s *Server) SetIdleTimeout(d time.Duration) error {
	if d < 0 || d > maxIdleTimeout {
		return errors.New("argument must be between 0 and 2147483647 inclusive")
	}
	s.idleTimeout.Store(int64(d))
	s.idleGen.Add(1)
	// Wake every reader, so that it applies the new timeout (see
	// Conn.read); the generation ensures none misses it.
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.nc.SetReadDeadline(time.Now())
	}
	return nil
}

// read reads from the connection for the reader goroutine, applying the
// idle timeout: the read deadline is the timeout after the read began.
// A deadline that passes while commands are in flight (running, or
// replies not written) is not idleness: the wait goes on. A deadline set
// to wake the reader (CloseAfterReply, SetIdleTimeout) makes it look
// again at the timeout and at closeAfter.
func (c *Conn) read(p []byte) (int, error) {
	var start time.Time // when idleness began; zero while no timeout applies
	for {
		gen := c.srv.idleGen.Load()
		timeout := c.srv.IdleTimeout()
		switch {
		case timeout > 0:
			if start.IsZero() {
				start = time.Now()
			}
			c.nc.SetReadDeadline(start.Add(timeout))
			c.deadlineSet = true
		case c.deadlineSet:
			c.nc.SetReadDeadline(time.Time{})
			c.deadlineSet = false
		}
		if c.closeAfter.Load() || c.srv.idleGen.Load() != gen {
			// Woken before the deadline was set: look again, or stop.
			if c.closeAfter.Load() {
				return 0, os.ErrDeadlineExceeded
			}
			continue
		}
		n, err := c.nc.Read(p)
		if n > 0 || err == nil || !errors.Is(err, os.ErrDeadlineExceeded) || c.closeAfter.Load() {
			return n, err
		}
		now := time.Now()
		if !c.p.empty() {
			start = now // busy, not idle: the idle time starts over
			continue
		}
		if timeout = c.srv.IdleTimeout(); timeout > 0 && !start.IsZero() && now.Sub(start) >= timeout {
			c.idleClosed = true
			return 0, err
		}
	}
}
