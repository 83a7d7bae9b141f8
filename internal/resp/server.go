package resp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrServerStarted is returned by a second call of Server.Run.
var ErrServerStarted = errors.New("resp: server already started")

// ErrServerClosed is returned by Run called after Close.
var ErrServerClosed = errors.New("resp: server closed")

// Server is a RESP2 server.
type Server struct {
	cfg     Config
	handler Handler
	log     *slog.Logger
	ln      net.Listener
	started atomic.Bool
	ctx     context.Context // Run's, set before the first connection
	wg      sync.WaitGroup  // every goroutine Run started, directly or not
	open    atomic.Int64    // connections open
	lastID  atomic.Uint64   // the ID of the newest connection
	runDone chan struct{}   // closed when Run returns, if it was called

	// Limits that CONFIG SET changes at run time (see limits.go).
	maxClients  atomic.Int64  // Config.MaxClients
	idleTimeout atomic.Int64  // Config.IdleTimeout, in ns
	idleGen     atomic.Uint64 // advanced when idleTimeout changes
	rejected    atomic.Int64  // connections refused for maxClients

	mu        sync.Mutex
	conns     map[*Conn]struct{} // guarded by mu
	shutdown  bool               // guarded by mu; no new connection is served
	closed    bool               // guarded by mu; Close was called
	cancelRun func()             // guarded by mu; ends Run, once it runs
}

// Listen binds cfg.Addr, so that callers learn errors and the port before
// calling Run. If Run is never called, call Close (or Run with a cancelled
// context) to release the listener.
func Listen(cfg Config, h Handler) (*Server, error) {
	if h == nil {
		return nil, errors.New("resp: nil Handler")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("resp: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		handler: h,
		log:     cfg.Logger,
		ln:      ln,
		runDone: make(chan struct{}),
		conns:   make(map[*Conn]struct{}),
	}
	s.maxClients.Store(int64(cfg.MaxClients))
	s.idleTimeout.Store(int64(cfg.IdleTimeout))
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Connections returns the number of connections open.
func (s *Server) Connections() int { return int(s.open.Load()) }

// Run serves until ctx ends or Close is called, then closes the listener
// and every connection, and returns nil once every goroutine it started
// has returned, running Exec calls included (their context is ctx, also
// cancelled by Close). It returns ErrServerStarted if Run was called
// before, and ErrServerClosed if Close was.
func (s *Server) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return ErrServerStarted
	}
	defer close(s.runDone)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.ctx, s.cancelRun = ctx, cancel
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { s.ln.Close() })
	defer stop()

	err := s.accept(ctx)
	cancel()
	s.ln.Close()
	s.closeConnections()
	s.wg.Wait()
	return err
}

// Close stops the server: it stops accepting, closes every connection,
// cancels the context of running commands and waits until they and every
// goroutine of the server have returned, as when Run's context ends. It
// releases the listener also if Run was never called. Close is idempotent;
// every call waits. It must not be called from a command (Exec would wait
// for itself). It always returns nil.
func (s *Server) Close() error {
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	cancel := s.cancelRun
	s.mu.Unlock()
	if first {
		if cancel != nil {
			cancel() // first: accept then sees a shutdown, not a failure
		}
		s.ln.Close()
	}
	if s.started.Load() {
		<-s.runDone
	}
	return nil
}

// accept serves connections until ctx ends. It retries failed accepts
// (e.g. out of file descriptors) with backoff.
func (s *Server) accept(ctx context.Context) error {
	var delay time.Duration
	for {
		nc, err := s.ln.Accept()
		if err == nil {
			delay = 0
			s.serve(nc)
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("resp: listener closed: %w", err)
		}
		delay = min(max(2*delay, 5*time.Millisecond), time.Second)
		s.log.Warn("accept failed; retrying", "err", err, "delay", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// connOpener is implemented by a Handler (the Mux) that sets up each
// connection before its first command.
type connOpener interface {
	openConn(c *Conn)
}

func (s *Server) serve(nc net.Conn) {
	c := newConn(s, nc, s.lastID.Add(1))
	if h, ok := s.handler.(connOpener); ok {
		h.openConn(c)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.shutdown:
		nc.Close()
	case s.open.Load() >= s.maxClients.Load():
		s.refuse(nc)
	default:
		s.conns[c] = struct{}{}
		s.open.Add(1)
		s.wg.Go(c.serve)
	}
}

// forget removes a closed connection.
func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	s.open.Add(-1)
}

func (s *Server) closeConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown = true
	for c := range s.conns {
		c.nc.Close()
	}
}

// connections returns the open connections, by ID.
func (s *Server) connections() []*Conn {
	s.mu.Lock()
	out := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *Conn) int { return cmp.Compare(a.id, b.id) })
	return out
}
