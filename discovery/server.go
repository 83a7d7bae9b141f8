package discovery

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// tombstoneTTL is how long a federated deletion is remembered when no newer
// snapshot arrives to supersede it.
const tombstoneTTL = 10 * time.Minute

// Server is one region's discovery: the local registry, the HTTP API and
// federation over gossip, all on one port.
type Server struct {
	cfg      Config
	log      *slog.Logger
	registry *Registry
	metrics  *serverMetrics
	saver    *saver       // nil without a DataDir
	limit    *connLimiter // connections on the discovery port
	logLimit *logLimiter  // repeated warnings (401s, rejected gossip, the connection cap)

	tcp       []net.Listener // the API/gossip listeners; the first is BindHost
	udp       *net.UDPConn
	port      int
	transport *transport
	httpLn    *chanListener
	ml        *memberlist.Memberlist
	queue     *memberlist.TransmitLimitedQueue
	outbox    chan outgoing // snapshots to send over TCP, by a worker

	mu        sync.RWMutex
	since     time.Time              // guarded by mu; when this region became alive: Run's start of gossip (New's time before it)
	fed       *federation            // guarded by mu
	regions   map[string]regionState // guarded by mu; other regions, from gossip events
	syncAsked map[string]time.Time   // guarded by mu; last sync request per region
	peers     map[string]peerStatus  // guarded by mu; by configured peer, the last attempt to join it
}

// peerStatus is the outcome of the last attempt to join a configured peer.
type peerStatus struct {
	addr  string    // the peer resolved to "ip:port" ("" if it does not resolve)
	state string    // joining (not tried yet), joined, unreachable or rejected (gossip authentication)
	err   string    // why the last attempt failed
	since time.Time // when state was entered
}

// regionState is another region's gossip state, copied from memberlist's
// events while memberlist holds its lock: memberlist's Members() hands out
// pointers to nodes it keeps mutating, so we never read those.
type regionState struct {
	ip        net.IP
	port      uint16
	state     string    // alive, dead or left
	since     time.Time // when state was entered
	lastHeard time.Time // last probe ack or message from the region
}

func (r regionState) addr() string { return net.JoinHostPort(r.ip.String(), strconv.Itoa(int(r.port))) }

// node returns a memberlist node of our own for sending to the region.
func (r regionState) node(name string) *memberlist.Node {
	return &memberlist.Node{Name: name, Addr: r.ip, Port: r.port}
}

type outgoing struct {
	region string
	msg    []byte
}

// New validates cfg and binds the discovery port (TCP for the API and gossip
// streams, UDP for gossip packets). Gossip starts in Run.
func New(cfg Config) (*Server, error) {
	cfg.fillDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		registry:  NewRegistry(cfg.MaxEntries),
		since:     cfg.Now(),
		outbox:    make(chan outgoing, 256),
		fed:       newFederation(3 * cfg.PushPullInterval),
		regions:   make(map[string]regionState),
		syncAsked: make(map[string]time.Time),
		peers:     make(map[string]peerStatus),
		logLimit:  newLogLimiter(time.Minute),
	}
	for _, p := range cfg.Peers {
		s.peers[p] = peerStatus{state: "joining", since: s.since}
	}
	s.metrics = newServerMetrics(s)
	s.limit = &connLimiter{max: int64(cfg.MaxConns), rejected: s.connRejected}
	if err := s.listen(); err != nil {
		return nil, err
	}
	if cfg.DataDir != "" {
		path := RegistrationsPath(cfg.DataDir)
		s.restoreRegistrations(path, s.advertiseAddr())
		s.saver = newSaver(path, cfg.PersistInterval, func() []byte {
			entries, _ := s.registry.Snapshot()
			return encodeRegistrations(cfg.Region, s.advertiseAddr(), entries, s.cfg.Now())
		}, s.log, func(result string) { s.metrics.persistWrites.Inc(result) })
	}
	if bind := net.ParseIP(cfg.BindHost); !bind.IsUnspecified() && !bind.Equal(cfg.WGIP) {
		s.log.Warn("gossip is advertised on the WireGuard IP but does not listen there: other regions cannot reach this one",
			"wg_ip", cfg.WGIP, "bind_host", cfg.BindHost)
	}
	return s, nil
}

// listen binds TCP and UDP on the same port, retrying when Port is -1 and
// the free TCP port picked is taken on UDP.
func (s *Server) listen() error {
	for attempt := 0; ; attempt++ {
		port := max(s.cfg.Port, 0)
		ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.BindHost, strconv.Itoa(port)))
		if err != nil {
			return fmt.Errorf("discovery: listen: %w", err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(s.cfg.BindHost), Port: port})
		if err != nil {
			ln.Close()
			if s.cfg.Port == -1 && attempt < 20 {
				continue
			}
			return fmt.Errorf("discovery: listen udp: %w", err)
		}
		s.tcp, s.udp, s.port = []net.Listener{ln}, udp, port
		break
	}
	bind := net.ParseIP(s.cfg.BindHost)
	if !bind.IsLoopback() && !bind.IsUnspecified() {
		lo, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)))
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("discovery: listen on loopback: %w", err)
		}
		s.tcp = append(s.tcp, lo)
	}
	return nil
}

func (s *Server) closeListeners() {
	for _, ln := range s.tcp {
		ln.Close()
	}
	s.udp.Close()
}

// advertiseAddr is where other regions reach this one: WGIP and the port.
func (s *Server) advertiseAddr() string {
	return net.JoinHostPort(s.cfg.WGIP.String(), strconv.Itoa(s.port))
}

// connRejected counts a connection closed at the cap and says so, at most
// once a minute.
func (s *Server) connRejected() {
	s.metrics.connsRejected.Inc()
	if s.logLimit.allow("maxconns", s.cfg.Now()) {
		s.log.Warn("connection limit reached; closing new connections", "max_conns", s.cfg.MaxConns)
	}
}

// Addr returns the API address ("host:port") on BindHost.
func (s *Server) Addr() string { return s.tcp[0].Addr().String() }

// Registry returns the local registry.
func (s *Server) Registry() *Registry { return s.registry }

// Run gossips and serves the API until ctx ends, then leaves the gossip
// cluster (so other regions drop this region's entries at once) and shuts
// down.
func (s *Server) Run(ctx context.Context) error {
	s.transport = newTransport(s.udp, s.cfg.WGIP, s.port, s.log)
	s.httpLn = newChanListener(s.tcp[0].Addr())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer s.httpLn.Close()
	for _, ln := range s.tcp {
		mux := &portMux{ln: ln, http: s.httpLn, streams: s.transport.deliverStream, limit: s.limit, log: s.log}
		wg.Go(mux.serve)
	}
	defer s.closeListeners()

	mc, err := s.memberlistConfig()
	var ml *memberlist.Memberlist
	if err == nil {
		ml, err = memberlist.Create(mc)
	}
	if err != nil {
		s.transport.Shutdown()
		return fmt.Errorf("discovery: starting gossip: %w", err)
	}
	s.ml = ml
	s.mu.Lock()
	s.since = s.cfg.Now()
	s.mu.Unlock()
	s.log.Info("discovery started", "addr", s.Addr(), "advertise", s.advertiseAddr(), "peers", s.cfg.Peers,
		"secret_fingerprint", s.fingerprint(), "data_dir", s.cfg.DataDir)
	if bind := net.ParseIP(s.cfg.BindHost); s.cfg.Secret == nil && !bind.IsLoopback() {
		s.log.Warn(fmt.Sprintf("no PLANET_SECRET_FILE: discovery's API writes and gossip are open to anyone who reaches %s",
			net.JoinHostPort(s.cfg.BindHost, strconv.Itoa(s.port))))
	}

	httpSrv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          log.New(slogWriter{s.log, slog.LevelDebug}, "", 0),
	}
	loopCtx, stopLoops := context.WithCancel(context.Background())
	saverCtx, stopSaver := context.WithCancel(context.Background())
	defer stopSaver()
	if s.saver != nil {
		wg.Go(func() { s.saver.run(saverCtx) })
	}
	wg.Go(func() { httpSrv.Serve(s.httpLn) })
	wg.Go(func() { s.maintain(loopCtx) })
	wg.Go(func() { s.rejoin(loopCtx) })
	wg.Go(func() { s.sendLoop(loopCtx) })

	<-ctx.Done()
	s.log.Info("discovery stopping: leaving the gossip cluster")
	s.announceLeave()
	if err := ml.Leave(2 * time.Second); err != nil {
		s.log.Info("leave not acknowledged by every region", "err", err)
	}
	stopLoops()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	httpSrv.Shutdown(shutdownCtx)
	s.httpLn.Close()
	stopSaver() // after the API: the last write has every change
	ml.Shutdown()
	s.closeListeners()
	return nil
}

func (s *Server) memberlistConfig() (*memberlist.Config, error) {
	mc := memberlist.DefaultWANConfig()
	mc.Name = s.cfg.Region
	mc.Transport = s.transport
	mc.AdvertiseAddr = s.cfg.WGIP.String()
	mc.AdvertisePort = s.port
	mc.PushPullInterval = s.cfg.PushPullInterval
	mc.GossipInterval = s.cfg.GossipInterval
	mc.ProbeInterval = s.cfg.ProbeInterval
	mc.ProbeTimeout = s.cfg.ProbeTimeout
	mc.SuspicionMult = s.cfg.SuspicionMult
	// With more than a handful of regions memberlist starts a suspicion at
	// this multiple of its minimum and shortens it as other regions
	// confirm; 2 keeps a dead region's worst case near the 15 s contract.
	mc.SuspicionMaxTimeoutMult = 2
	mc.TCPTimeout = 10 * time.Second
	mc.DeadNodeReclaimTime = 10 * time.Second // a region may come back on a new address
	mc.Logger = log.New(memberlistLogWriter{log: s.log.With("component", "memberlist"), rejected: s.rejectedGossip}, "", 0)
	if s.cfg.Secret != nil {
		kr, err := memberlist.NewKeyring(nil, s.cfg.Secret.GossipKey())
		if err != nil {
			return nil, err
		}
		mc.Keyring = kr
		mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	}
	d := &delegate{s}
	mc.Delegate, mc.Events, mc.Conflict = d, d, d
	s.queue = &memberlist.TransmitLimitedQueue{NumNodes: s.numMembers, RetransmitMult: 3}
	return mc, nil
}

// numMembers counts the alive regions, ourselves included, for the
// broadcast queue's retransmit limit.
func (s *Server) numMembers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return 1 + s.aliveRegionsLocked()
}

// aliveRegionsLocked counts the other regions gossip reports alive.
func (s *Server) aliveRegionsLocked() int {
	n := 0
	for _, st := range s.regions {
		if st.state == "alive" {
			n++
		}
	}
	return n
}

// suspectAfterLocked is how long an alive region may go unheard before
// Regions reports it suspect: each region probes one other per
// ProbeInterval, round robin, so two missed rounds and a probe timeout.
func (s *Server) suspectAfterLocked() time.Duration {
	return 2*time.Duration(max(s.aliveRegionsLocked(), 1))*s.cfg.ProbeInterval + s.cfg.ProbeTimeout
}

// maintain expires local and federated entries and broadcasts the digest
// every PushPullInterval.
func (s *Server) maintain(ctx context.Context) {
	expire := time.NewTicker(250 * time.Millisecond)
	defer expire.Stop()
	digest := time.NewTicker(s.cfg.PushPullInterval)
	defer digest.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-expire.C:
			now := s.cfg.Now()
			for _, e := range s.registry.Expire(now) {
				s.log.Info("registration expired", "service", e.Name, "address", e.Address, "ttl", e.TTL)
				s.broadcastDelete(e, now)
				s.saver.touch()
			}
			s.mu.Lock()
			n := s.fed.expire(now, tombstoneTTL)
			s.mu.Unlock()
			if n > 0 {
				s.log.Info("federated registrations went stale", "count", n)
			}
		case <-digest.C:
			s.broadcastDigest()
		}
	}
}

// rejoin joins every configured peer that is not an alive member, one at
// a time so that each failure is its own, so that regions can start in any
// order and find each other again after a partition that outlasted
// memberlist's gossip to the dead.
func (s *Server) rejoin(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, p := range s.missingPeers() {
			if ctx.Err() != nil {
				return
			}
			_, err := s.ml.Join([]string{p})
			s.joined(p, err)
		}
		t.Reset(s.cfg.RejoinInterval)
	}
}

// joined records the outcome of joining peer, and logs what changed: a
// gossip rejection once, as one line that says what to check; other
// failures (a peer down) at debug level, as they are expected while
// regions start.
func (s *Server) joined(peer string, err error) {
	now := s.cfg.Now()
	st := peerStatus{state: "joined"}
	if err != nil {
		st.state, st.err = "unreachable", joinError(err)
		if reason := gossipRejection(st.err); reason != "" {
			st.state, st.err = "rejected", "gossip rejected: "+reason+"; "+secretHint
		}
	}
	s.mu.Lock()
	old := s.peers[peer]
	st.addr, st.since = old.addr, old.since
	if st.state != old.state {
		st.since = now
	}
	s.peers[peer] = st
	s.mu.Unlock()
	switch {
	case st.state == "rejected":
		s.metrics.gossipRejected.Inc("join")
		if old.state != "rejected" {
			s.log.Warn(fmt.Sprintf("cannot join peer %s: %s", peer, st.err),
				"secret_fingerprint", s.fingerprint(), "detail", joinError(err))
		}
	case err != nil:
		s.log.Debug("joining peers failed; will retry", "peer", peer, "err", joinError(err))
	default:
		s.log.Info("joined peer", "peer", peer)
	}
}

// joinError flattens memberlist's multi-error ("1 error occurred:\n\t*
// failed to join ...") into one line.
func joinError(err error) string {
	var parts []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "* ") {
			parts = append(parts, strings.TrimPrefix(line, "* "))
		}
	}
	if len(parts) == 0 {
		return strings.TrimSpace(err.Error())
	}
	return strings.Join(parts, "; ")
}

// missingPeers returns the configured peers that no alive member runs at,
// and notes the address each resolves to.
func (s *Server) missingPeers() []string {
	resolved := make(map[string]string, len(s.cfg.Peers))
	for _, p := range s.cfg.Peers {
		if addr, err := net.ResolveTCPAddr("tcp", p); err == nil {
			resolved[p] = addr.String()
		}
	}
	self := s.advertiseAddr()
	s.mu.Lock()
	defer s.mu.Unlock()
	alive := make(map[string]bool)
	for _, r := range s.regions {
		if r.state == "alive" {
			alive[r.addr()] = true
		}
	}
	var missing []string
	for _, p := range s.cfg.Peers {
		a, ok := resolved[p]
		st := s.peers[p]
		st.addr = a
		s.peers[p] = st
		if !ok || (a != self && !alive[a]) {
			missing = append(missing, p) // Join reports a resolution error
		}
	}
	return missing
}

// sendLoop sends queued snapshots over TCP, one at a time, outside
// memberlist's callbacks.
func (s *Server) sendLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case o := <-s.outbox:
			s.mu.Lock()
			r, ok := s.regions[o.region]
			s.mu.Unlock()
			if !ok || r.state != "alive" {
				continue
			}
			if err := s.ml.SendReliable(r.node(o.region), o.msg); err != nil {
				s.log.Debug("sending state failed", "region", o.region, "err", err)
			}
		}
	}
}

func (s *Server) enqueue(region string, msg []byte) {
	select {
	case s.outbox <- outgoing{region, msg}:
	default:
		s.log.Warn("outbox full; dropping state transfer (digests will retry)", "region", region)
	}
}
