package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"planet/internal/atomicfile"
	"planet/internal/config"
	"planet/internal/peer"
)

// peerSet is the region's other replicas, from list_local("storage"). The
// last known set stays in use while discovery is unreachable, and is kept
// in the replica's directory (peers.json) so that a replica restarted
// while discovery is unreachable starts with it.
type peerSet struct {
	self    string
	file    string // peers.json; "" keeps nothing
	mu      sync.RWMutex
	list    []string // guarded by mu; sorted, without self
	next    atomic.Uint64
	clients atomic.Pointer[[]*peer.Client] // a client per peer, in list order
}

// peersFile is where the replica with data directory dir keeps its last
// known peers.
func peersFile(dir string) string { return filepath.Join(dir, "peers.json") }

// peersRecord is the content of peers.json.
type peersRecord struct {
	Peers   []string  `json:"peers"`
	Updated time.Time `json:"updated"`
}

// maxPeersFile bounds what load reads.
const maxPeersFile = 1 << 20

func newPeerSet(self, file string) *peerSet { return &peerSet{self: self, file: file} }

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

// load sets the peers kept in the file, if any. A missing file is no
// error; a file that cannot be read or parsed is, and changes nothing.
func (p *peerSet) load() error {
	if p.file == "" {
		return nil
	}
	f, err := os.Open(p.file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPeersFile+1))
	if err != nil {
		return err
	}
	if len(data) > maxPeersFile {
		return fmt.Errorf("%s: larger than %d bytes", p.file, maxPeersFile)
	}
	var rec peersRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return fmt.Errorf("%s: %w", p.file, err)
	}
	for _, a := range rec.Peers {
		if _, err := config.ParseHostPort(a); err != nil {
			return fmt.Errorf("%s: peer %q: %v", p.file, a, err)
		}
	}
	p.set(rec.Peers)
	return nil
}

// save writes the peers to the file atomically.
func (p *peerSet) save(now time.Time) error {
	if p.file == "" {
		return nil
	}
	data, err := json.Marshal(peersRecord{Peers: p.addrs(), Updated: now.UTC()})
	if err != nil {
		return err
	}
	return atomicfile.Write(p.file, append(data, '\n'), 0o644)
}

// start returns a rotating position, so that reads spread over the peers.
func (p *peerSet) start() int { return int(p.next.Add(1) % (1 << 30)) }

// refreshPeers re-reads the region's replicas from discovery every
// PeerRefresh.
func (s *Server) refreshPeers(ctx context.Context) error {
	t := time.NewTicker(s.cfg.PeerRefresh)
	defer t.Stop()
	for {
		s.refreshPeersOnce(ctx, 2*time.Second)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// refreshPeersOnce asks discovery for the region's replicas, waiting at
// most timeout.
func (s *Server) refreshPeersOnce(ctx context.Context, timeout time.Duration) {
	qctx, cancel := context.WithTimeout(ctx, timeout)
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
		s.usePeers(list)
		s.log.Info("storage: replicas changed", "peers", list)
		if err := s.peers.save(s.cfg.Now()); err != nil {
			s.log.Warn("storage: keeping the replicas on disk failed", "err", err)
		}
	}
}

// usePeers points the replica's clients at list.
func (s *Server) usePeers(list []string) {
	s.pool.Retain(list)
	s.largePool.Retain(list)
	clients := make([]*peer.Client, len(list))
	for i, a := range list {
		clients[i] = s.pool.Get(a)
	}
	s.peers.clients.Store(&clients)
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
