package caching

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"

	"planet/internal/hlc"
	"planet/internal/resp"
)

// Server is one cache: the keyspace, its active expiry and the RESP
// server that serves Redis's commands over it. It stands alone for now:
// replication and discovery come next.
type Server struct {
	cfg   Config
	log   *slog.Logger
	store *Store
	mux   *resp.Mux
	resp  *resp.Server
}

// New validates cfg, builds the keyspace and binds the RESP port. Serving
// starts in Run.
func New(cfg Config) (*Server, error) {
	cfg.fillDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	clock, err := hlc.NewClock(cfg.Node, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("caching: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "caching"),
		store: NewStore(clock, cfg.Now, cfg.MaxMemory, cfg.Policy)}
	if s.mux, err = NewMux(s.store); err != nil {
		return nil, err
	}
	s.resp, err = resp.Listen(resp.Config{
		Addr:    net.JoinHostPort(cfg.BindHost, strconv.Itoa(max(cfg.Port, 0))),
		MaxBulk: maxStringLen,
		Logger:  s.log,
	}, s.mux)
	if err != nil {
		return nil, fmt.Errorf("caching: listen: %w", err)
	}
	return s, nil
}

// Addr returns the RESP address the server listens on (host:port).
func (s *Server) Addr() string { return s.resp.Addr().String() }

// Store returns the server's keyspace.
func (s *Server) Store() *Store { return s.store }

// Run serves RESP clients and runs active expiry until ctx ends, then
// closes every connection and returns once everything it started has
// stopped.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.store.RunExpiry(ctx)
	}()
	s.log.Info("serving", "addr", s.Addr(), "maxmemory", s.cfg.MaxMemory, "policy", s.cfg.Policy)
	err := s.resp.Run(ctx)
	cancel()
	wg.Wait()
	return err
}

// Close releases the listener of a server whose Run was never called, and
// stops a running one as if its context ended. It is idempotent.
func (s *Server) Close() error { return s.resp.Close() }
