package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"planet/discovery/client"
	"planet/internal/admin"
	"planet/internal/config"
	"planet/internal/hlc"
	"planet/internal/peer"
	"planet/internal/quorum"
	"planet/internal/resp"
	"planet/internal/secret"
	"planet/storage/engine"
)

// Server is one storage replica: the engine, the RESP server, quorum
// coordination with the region's other replicas, hinted handoff and
// anti-entropy.
type Server struct {
	cfg     Config
	log     *slog.Logger
	addr    string // host:port as registered in discovery
	eng     *engine.Engine
	clock   *hlc.Clock
	resp    *resp.Server
	mux     *resp.Mux
	adminLn net.Listener
	disc    Discovery
	pool    *peer.Pool
	// largePool replicates values of LargeValue bytes or more.
	largePool *peer.Pool
	peers     *peerSet
	hints     *hints
	metrics   *serverMetrics
	started   time.Time

	writeDeadlines *quorum.Deadlines // QuorumTimeout of quorum writes
	// largeWriteDeadlines: the longer deadline of writes of LargeValue
	// bytes or more (Config.largeWriteTimeout).
	largeWriteDeadlines *quorum.Deadlines
	readDeadlines       *quorum.Deadlines // speculative retries of quorum reads
}

// New validates cfg, binds the RESP and admin ports and opens (recovering)
// the replica's data. Serving starts in Run.
func New(cfg Config) (*Server, error) {
	cfg.fillDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, started: cfg.Now(),
		writeDeadlines:      quorum.NewDeadlines(cfg.QuorumTimeout),
		largeWriteDeadlines: quorum.NewDeadlines(cfg.largeWriteTimeout()),
		readDeadlines:       quorum.NewDeadlines(speculativeRead)}
	port := max(cfg.Port, 0)
	mux, err := s.newMux()
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	s.mux = mux
	ln, err := resp.Listen(resp.Config{
		Addr:        hostPort(cfg.BindHost, port),
		MaxBulk:     cfg.MaxValue + MaxKey + 1024,
		MaxClients:  cfg.MaxClients,
		IdleTimeout: cfg.IdleTimeout,
		Logger:      cfg.Logger,
	}, mux)
	if err != nil {
		return nil, fmt.Errorf("storage: listen: %w", err)
	}
	s.resp = ln
	port = ln.Addr().(*net.TCPAddr).Port
	s.cfg.Port = port
	s.addr = hostPort(cfg.BindHost, port)
	s.log = cfg.Logger.With("component", "storage", "port", port)
	s.metrics = newServerMetrics(s)
	cleanup := func() { ln.Close() }
	adminPort := max(cfg.AdminPort, 0)
	if s.adminLn, err = net.Listen("tcp", hostPort(cfg.BindHost, adminPort)); err != nil {
		cleanup()
		return nil, fmt.Errorf("storage: listen admin: %w", err)
	}
	cleanup = func() { ln.Close(); s.adminLn.Close() }
	s.clock, err = hlc.NewClock(hlc.NodeID(cfg.Region, port), cfg.Now)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("storage: %w", err)
	}
	ec := cfg.Engine
	ec.Dir = engineDir(cfg.DataDir, port)
	ec.Logger = s.log
	ec.OnFsync = func(d time.Duration) { s.metrics.fsync.Observe(d.Seconds()) }
	if s.eng, err = engine.Open(ec); err != nil {
		cleanup()
		return nil, err
	}
	s.clock.Observe(hlc.Version{Time: s.eng.MaxVersionTime()})
	if s.disc = cfg.Discovery; s.disc == nil {
		s.disc, err = client.New(client.Config{Addr: cfg.DiscoveryAddr, TTL: cfg.RegisterTTL, Secret: cfg.Secret, Logger: s.log})
	}
	if err != nil {
		s.eng.Close()
		cleanup()
		return nil, fmt.Errorf("storage: %w", err)
	}
	pc := peer.Config{Conns: cfg.PeerConns, IOTimeout: cfg.QuorumTimeout}
	switch {
	case cfg.Secret != nil:
		pc.Username, pc.Password = secret.PlatformUser, cfg.Secret.RESPPassword()
	case cfg.Password != "":
		pc.Password = cfg.Password // no platform user: peers are applications
	}
	s.pool = peer.NewPool(pc)
	// Values of LargeValue bytes or more go over connections of their own
	// (as Cassandra's large-message connections), whose I/O bound is the
	// large writes' deadline: they neither hold up small writes nor make
	// a hung peer slower to detect.
	lc := pc
	lc.Conns, lc.IOTimeout = 1, cfg.largeWriteTimeout()
	s.largePool = peer.NewPool(lc)
	s.peers = newPeerSet(s.addr, peersFile(ec.Dir))
	if err := s.peers.load(); err != nil {
		s.log.Warn("storage: the last known replicas could not be read; waiting for discovery", "err", err)
	} else if list := s.peers.addrs(); len(list) > 0 {
		s.usePeers(list)
		s.log.Info("storage: last known replicas, until discovery answers", "peers", list)
	}
	if s.hints, err = newHints(s.eng, cfg.Now, s.log, func() { s.metrics.hintsLost.Inc() }); err != nil {
		s.eng.Close()
		cleanup()
		return nil, fmt.Errorf("storage: %w", err)
	}
	return s, nil
}

// Addr is the replica's RESP address.
func (s *Server) Addr() string { return s.addr }

// AdminAddr is the replica's /health and /metrics address.
func (s *Server) AdminAddr() string { return s.adminLn.Addr().String() }

// Run serves until ctx ends: RESP clients, the admin endpoints, the
// discovery registration and the background repair loops. It then
// deregisters, stops them all and closes the data files.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	goRun := func(f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	// The deadlines of quorum operations outlive the RESP server, which
	// waits for its commands when it stops.
	dctx, stopDeadlines := context.WithCancel(context.Background())
	var dwg sync.WaitGroup
	dwg.Go(func() { s.writeDeadlines.Run(dctx) })
	dwg.Go(func() { s.largeWriteDeadlines.Run(dctx) })
	dwg.Go(func() { s.readDeadlines.Run(dctx) })
	defer dwg.Wait()
	defer stopDeadlines()
	mux := http.NewServeMux()
	admin.Handle(mux, s.health, s.metrics.reg)
	if s.cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	goRun(func(ctx context.Context) error {
		go func() { <-ctx.Done(); hs.Close() }()
		if err := hs.Serve(s.adminLn); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("storage: admin: %w", err)
		}
		return nil
	})
	// Know the region's replicas before taking clients, so that a
	// restarted replica does not answer NOQUORUM for its first second.
	// With the last known replicas from disk, discovery gets less time:
	// a replica restarted while discovery hangs serves sooner.
	first := 2 * time.Second
	if len(s.peers.addrs()) > 0 {
		first = 300 * time.Millisecond
	}
	s.refreshPeersOnce(ctx, first)
	goRun(s.resp.Run)
	goRun(s.refreshPeers)
	goRun(s.replayHints)
	goRun(s.antiEntropy)
	goRun(func(ctx context.Context) error {
		err := s.disc.Register(ctx, "storage", s.addr)
		if err != nil {
			s.log.Error("storage: discovery registration refused", "err", err)
		}
		return nil
	})
	if s.cfg.Secret == nil && !config.IsLoopback(s.cfg.BindHost) {
		s.log.Warn("storage: no PLANET_SECRET_FILE: anyone who reaches " + s.addr + " may send the internal replication commands; set one outside development")
	}
	s.log.Info("storage: serving", "addr", s.addr, "admin", s.AdminAddr(), "region", s.cfg.Region,
		"w", s.cfg.W, "r", s.cfg.R, "consistency", s.cfg.Consistency.String(), "durability", s.cfg.Engine.Durability.String())
	<-ctx.Done()
	wg.Wait()
	s.pool.Close()
	s.largePool.Close()
	err := s.eng.Close()
	select {
	case e := <-errc:
		return e
	default:
	}
	if err != nil {
		return fmt.Errorf("storage: close: %w", err)
	}
	s.log.Info("storage: stopped")
	return nil
}

func (s *Server) health() (any, error) {
	if err := s.eng.Err(); err != nil {
		return nil, err
	}
	st := s.eng.Stats()
	return map[string]any{
		"status":         "ok",
		"region":         s.cfg.Region,
		"node":           s.clock.Node(),
		"addr":           s.addr,
		"peers":          len(s.peers.addrs()),
		"w":              s.cfg.W,
		"r":              s.cfg.R,
		"keys":           st.Keys,
		"wal_generation": st.Generation,
		"wal_bytes":      st.WALBytes,
		"hints_pending":  s.hints.pending(),
	}, nil
}
