package storage

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"planet/internal/peer"
)

// peerSet is the region's other replicas, from list_local("storage"). The
// last known set stays in use while discovery is unreachable.
type peerSet struct {
	self    string
	mu      sync.RWMutex
	list    []string // guarded by mu; sorted, without self
	next    atomic.Uint64
	clients atomic.Pointer[[]*peer.Client] // a client per peer, in list order
}

func newPeerSet(self string) *peerSet { return &peerSet{self: self} }

func (p *peerSet) addrs() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.list
}

// set replaces the peers; it reports whether they changed.
func (p *peerSet) set(addrs []string) bool {
	list := make([]string, 0, len(addrs))
	for _, a := range addrs {
		if a != p.self && !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	slices.Sort(list)
	p.mu.Lock()
	defer p.mu.Unlock()
	if slices.Equal(list, p.list) {
		return false
	}
	p.list = list
	return true
}

// start returns a rotating position, so that reads spread over the peers.
func (p *peerSet) start() int { return int(p.next.Add(1) % (1 << 30)) }

// refreshPeers re-reads the region's replicas from discovery every
// PeerRefresh.
func (s *Server) refreshPeers(ctx context.Context) error {
	t := time.NewTicker(s.cfg.PeerRefresh)
	defer t.Stop()
	for {
		s.refreshPeersOnce(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Server) refreshPeersOnce(ctx context.Context) {
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	insts, err := s.disc.ListLocal(qctx, "storage")
	if err != nil {
		s.log.Debug("storage: list replicas failed; keeping the last known set", "err", err)
		return
	}
	addrs := make([]string, 0, len(insts))
	for _, in := range insts {
		addrs = append(addrs, in.Address)
	}
	if s.peers.set(addrs) {
		list := s.peers.addrs()
		s.pool.Retain(list)
		clients := make([]*peer.Client, len(list))
		for i, a := range list {
			clients[i] = s.pool.Get(a)
		}
		s.peers.clients.Store(&clients)
		s.log.Info("storage: replicas changed", "peers", list)
	}
}

// clients returns a client per peer (shared: do not modify) and a rotating
// start position in it.
func (s *Server) clients() ([]*peer.Client, int) {
	p := s.peers.clients.Load()
	if p == nil {
		return nil, 0
	}
	return *p, s.peers.start()
}
