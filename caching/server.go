package caching

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"planet/discovery/client"
	"planet/internal/admin"
	"planet/internal/hlc"
	"planet/internal/resp"
)

// Server is one cache: the keyspace, its active expiry, the RESP server
// that serves Redis's commands over it, the admin endpoints (/health,
// /metrics) and its registration in discovery. Replication between caches
// comes next.
type Server struct {
	cfg     Config
	log     *slog.Logger
	addr    string // host:port as registered in discovery
	store   *Store
	mux     *resp.Mux
	resp    *resp.Server
	adminLn net.Listener
	disc    Discovery
	repl    *replicator
	metrics *serverMetrics
}

// New validates cfg, builds the keyspace and binds the RESP and admin
// ports. Serving starts in Run.
func New(cfg Config) (*Server, error) {
	cfg.fillDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	clock, err := hlc.NewClock(cfg.Node, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("caching: %w", err)
	}
	s := &Server{cfg: cfg, store: NewStore(clock, cfg.Now, cfg.MaxMemory, cfg.Policy)}
	s.store.EnableReplication(cfg.TombstoneGrace.Milliseconds())
	if s.disc = cfg.Discovery; s.disc == nil {
		s.disc, err = client.New(client.Config{Addr: cfg.DiscoveryAddr, TTL: cfg.RegisterTTL, Secret: cfg.Secret, Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("caching: %w", err)
		}
	}
	s.repl = newReplicator(&cfg, s.store, s.disc, "", cfg.Logger)
	mc := resp.MuxConfig{Password: cfg.Password}
	if cfg.Secret != nil {
		mc.PlatformPassword = cfg.Secret.RESPPassword()
	}
	if s.mux, err = newMux(s.store, mc, s.repl); err != nil {
		return nil, err
	}
	s.resp, err = resp.Listen(resp.Config{
		Addr:        hostPort(cfg.BindHost, max(cfg.Port, 0)),
		MaxBulk:     maxStringLen,
		MaxClients:  cfg.MaxClients,
		IdleTimeout: cfg.IdleTimeout,
		Logger:      cfg.Logger,
	}, s.mux)
	if err != nil {
		return nil, fmt.Errorf("caching: listen: %w", err)
	}
	port := s.resp.Addr().(*net.TCPAddr).Port
	s.addr = hostPort(cfg.BindHost, port)
	s.log = cfg.Logger.With("component", "caching", "port", port)
	s.repl.self, s.repl.log = s.addr, s.log
	if s.adminLn, err = net.Listen("tcp", hostPort(cfg.BindHost, max(cfg.AdminPort, 0))); err != nil {
		s.resp.Close()
		return nil, fmt.Errorf("caching: listen admin: %w", err)
	}
	s.metrics = newServerMetrics(s)
	s.store.loading.Store(!cfg.NoWarmStart)
	return s, nil
}

// Addr returns the RESP address the server listens on (host:port), as
// registered in discovery.
func (s *Server) Addr() string { return s.addr }

// AdminAddr returns the /health and /metrics address (host:port).
func (s *Server) AdminAddr() string { return s.adminLn.Addr().String() }

// Loading reports whether the server is still copying a cache of its
// region (warm start) and so refuses clients' commands with -LOADING.
func (s *Server) Loading() bool { return s.store.loading.Load() }

// Store returns the server's keyspace.
func (s *Server) Store() *Store { return s.store }

// Run serves until ctx ends: RESP clients, active expiry, the admin
// endpoints and the discovery registration. It then deregisters, closes
// every connection and returns once everything it started has stopped.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	goRun := func(f func(context.Context) error) {
		wg.Go(func() {
			if err := f(ctx); err != nil {
				errc <- err
				cancel()
			}
		})
	}
	goRun(func(ctx context.Context) error { s.store.RunExpiry(ctx); return nil })
	goRun(func(ctx context.Context) error { s.repl.run(ctx, s.cfg.PeerRefresh); return nil })
	goRun(func(ctx context.Context) error {
		if s.cfg.NoWarmStart {
			s.repl.warm.Store("off")
		} else {
			s.warmStart(ctx)
			s.store.loading.Store(false)
		}
		return nil
	})
	goRun(s.serveAdmin)
	goRun(s.resp.Run)
	goRun(func(ctx context.Context) error {
		if err := s.disc.Register(ctx, ServiceName, s.addr); err != nil {
			s.log.Error("discovery registration refused", "err", err)
		}
		return nil
	})
	s.log.Info("serving", "addr", s.addr, "admin", s.AdminAddr(), "region", s.cfg.Region,
		"maxmemory", s.cfg.MaxMemory, "policy", s.cfg.Policy, "mode", s.cfg.Mode, "strong_timeout", s.cfg.StrongTimeout)
	<-ctx.Done()
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	s.log.Info("stopped")
	return nil
}

// serveAdmin serves /health and /metrics until ctx ends.
func (s *Server) serveAdmin(ctx context.Context) error {
	mux := http.NewServeMux()
	admin.Handle(mux, s.health, s.metrics.reg)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	stop := context.AfterFunc(ctx, func() { hs.Close() })
	defer stop()
	if err := hs.Serve(s.adminLn); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("caching: admin: %w", err)
	}
	return nil
}

// health answers /health: 503 while the warm start copies (clients get
// -LOADING), so that a rolling restart waits for it.
func (s *Server) health() (any, error) {
	if s.store.loading.Load() {
		return nil, fmt.Errorf("loading: warm start %s", s.repl.warmState())
	}
	return map[string]any{
		"status":      "ok",
		"region":      s.cfg.Region,
		"node":        s.cfg.Node,
		"addr":        s.addr,
		"keys":        s.store.Len(),
		"loading":     s.store.loading.Load(),
		"mode":        s.repl.defaultMode().String(),
		"peers":       len(s.repl.peers()),
		"used_memory": s.store.Used(),
		"maxmemory":   s.store.MaxMemory(),
		"connections": s.resp.Connections(),
	}, nil
}

// Close releases the listeners of a server whose Run was never called,
// and stops a running one as if its context ended. It is idempotent.
func (s *Server) Close() error {
	err := s.resp.Close()
	if e := s.adminLn.Close(); e != nil && !errors.Is(e, net.ErrClosed) && err == nil {
		err = e
	}
	return err
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
