package discovery

import (
	"net"
	"time"

	"github.com/hashicorp/memberlist"
)

// delegate connects memberlist to the Server: it carries our user messages
// (deltas, digests, snapshots), supplies and merges push/pull state, and
// learns of regions joining and dying.
type delegate struct{ s *Server }

var (
	_ memberlist.Delegate         = (*delegate)(nil)
	_ memberlist.EventDelegate    = (*delegate)(nil)
	_ memberlist.ConflictDelegate = (*delegate)(nil)
	_ memberlist.PingDelegate     = (*delegate)(nil)
)

func (d *delegate) NodeMeta(limit int) []byte { return nil }

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.s.queue.GetBroadcasts(overhead, limit)
}

// LocalState is our half of a push/pull: our full state.
func (d *delegate) LocalState(join bool) []byte {
	return d.s.snapshotMessage(false)
}

// MergeRemoteState applies the other side's half of a push/pull.
func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	if len(buf) == 0 {
		return
	}
	d.s.handleMessage(buf, "pushpull")
}

func (d *delegate) NotifyMsg(b []byte) { d.s.handleMessage(b, "gossip") }

// NotifyJoin: a region became alive (first seen, or back from dead). Both
// sides exchange snapshots so the returning region's entries are back at
// once instead of at the next push/pull.
func (d *delegate) NotifyJoin(n *memberlist.Node) {
	s := d.s
	if n.Name == s.cfg.Region {
		return
	}
	now := s.cfg.Now()
	s.mu.Lock()
	s.regions[n.Name] = regionState{ip: append(net.IP(nil), n.Addr...), port: n.Port, state: "alive", since: now, lastHeard: now}
	s.mu.Unlock()
	s.log.Info("region joined", "peer", n.Name, "addr", n.Address())
	s.enqueue(n.Name, s.snapshotMessage(true))
}

// NotifyLeave: a region died or left; its entries go at once. (memberlist
// does not say which: a region that announced its leave is "left".)
func (d *delegate) NotifyLeave(n *memberlist.Node) {
	s := d.s
	if n.Name == s.cfg.Region {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.regions[n.Name]; ok && r.state == "left" {
		return // announced; its entries are already gone
	}
	s.regions[n.Name] = regionState{ip: append(net.IP(nil), n.Addr...), port: n.Port, state: "dead", since: s.cfg.Now()}
	dropped := s.fed.dropRegion(n.Name)
	s.log.Warn("region dead", "peer", n.Name, "addr", n.Address(), "dropped_entries", dropped)
}

// regionLeft handles a region's announcement that it is shutting down.
func (s *Server) regionLeft(region string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.regions[region]
	if !ok || r.state != "alive" {
		return
	}
	r.state, r.since = "left", s.cfg.Now()
	s.regions[region] = r
	dropped := s.fed.dropRegion(region)
	s.log.Info("region left", "peer", region, "dropped_entries", dropped)
}

// announceLeave tells every alive region that we are shutting down, so
// that they drop our entries at once.
func (s *Server) announceLeave() {
	msg := encodeMessage(msgLeave, &leaveMsg{Region: s.cfg.Region})
	for _, n := range s.aliveNodes() {
		s.ml.SendBestEffort(n, msg)
	}
	s.queue.QueueBroadcast(&broadcast{name: "leave", msg: msg})
}

// NotifyUpdate: a region's address or metadata changed.
func (d *delegate) NotifyUpdate(n *memberlist.Node) {
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.regions[n.Name]; ok {
		r.ip, r.port = append(net.IP(nil), n.Addr...), n.Port
		s.regions[n.Name] = r
	}
}

// NotifyPingComplete: a probe of a region was answered; see Regions for
// how this tells suspect regions from alive ones.
func (d *delegate) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, payload []byte) {
	d.s.heard(other.Name)
}

func (d *delegate) AckPayload() []byte { return nil }

// heard records that region answered or sent something just now. A region
// that Regions reports suspect is alive again, since now.
func (s *Server) heard(region string) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.regions[region]; ok && r.state == "alive" {
		if now.Sub(r.lastHeard) > s.suspectAfterLocked() {
			r.since = now
		}
		r.lastHeard = now
		s.regions[region] = r
	}
}

func (d *delegate) NotifyConflict(existing, other *memberlist.Node) {
	d.s.log.Error("two discovery instances claim one region name", "region", existing.Name,
		"existing", existing.Address(), "other", other.Address())
}

// regionUsable reports whether messages from region should be applied: not
// from ourselves, and not from a region gossip declared dead (its late
// messages would bring back entries we just dropped; it sends a snapshot
// when it rejoins).
func (s *Server) regionUsableLocked(region string) bool {
	if region == s.cfg.Region {
		return false
	}
	st, ok := s.regions[region]
	return !ok || st.state == "alive"
}

// handleMessage decodes and applies one user message; bad messages are
// counted and dropped.
func (s *Server) handleMessage(b []byte, via string) {
	msg, err := decodeMessage(b)
	if err != nil {
		s.metrics.gossipMessages.Inc("invalid", via)
		s.log.Debug("dropping bad gossip message", "via", via, "err", err)
		return
	}
	now := s.cfg.Now()
	switch m := msg.(type) {
	case *deltaMsg:
		s.heard(m.Region)
		s.metrics.gossipMessages.Inc("delta", via)
		s.applyDelta(m, now)
	case *digestMsg:
		s.heard(m.Region)
		s.metrics.gossipMessages.Inc("digest", via)
		s.checkDigest(m, now)
	case *snapshotMsg:
		s.metrics.gossipMessages.Inc("snapshot", via)
		s.applySnapshot(m, now)
		if m.Reply {
			s.enqueue(m.Region, s.snapshotMessage(false))
		}
	case *syncRequestMsg:
		s.metrics.gossipMessages.Inc("sync_request", via)
		s.enqueue(m.Region, s.snapshotMessage(false))
	case *leaveMsg:
		s.metrics.gossipMessages.Inc("leave", via)
		s.regionLeft(m.Region)
	}
}

func (s *Server) applyDelta(m *deltaMsg, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.regionUsableLocked(m.Region) {
		return
	}
	var changed bool
	if m.Delete {
		changed = s.fed.applyDelete(m.Region, m.Entry.Name, m.Entry.Address, m.Entry.Version, now)
	} else {
		changed = s.fed.applyPut(m.Region, m.Entry.remote(now))
	}
	if changed {
		if d := now.Sub(time.Unix(0, m.SentAt)); d >= 0 && d < time.Hour {
			s.metrics.propagation.Observe(d.Seconds())
		}
	}
}

func (s *Server) applySnapshot(m *snapshotMsg, now time.Time) {
	entries := make([]remoteEntry, len(m.Entries))
	for i, e := range m.Entries {
		entries[i] = e.remote(now)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.regionUsableLocked(m.Region) {
		return
	}
	s.fed.applySnapshot(m.Region, m.Version, entries)
}

// checkDigest confirms a region's entries when our view matches its digest,
// and asks it for a snapshot (at most once per push/pull period) when not.
func (s *Server) checkDigest(m *digestMsg, now time.Time) {
	s.mu.Lock()
	if !s.regionUsableLocked(m.Region) {
		s.mu.Unlock()
		return
	}
	count, hash := s.fed.digest(m.Region)
	if count == m.Count && hash == m.Hash {
		s.fed.confirm(m.Region, now)
		s.mu.Unlock()
		return
	}
	if now.Sub(s.syncAsked[m.Region]) < s.cfg.PushPullInterval {
		s.mu.Unlock()
		return
	}
	s.syncAsked[m.Region] = now
	s.mu.Unlock()
	s.log.Debug("view differs from region's digest; asking for its state", "peer", m.Region,
		"have", count, "want", m.Count)
	s.enqueue(m.Region, encodeMessage(msgSyncRequest, &syncRequestMsg{Region: s.cfg.Region}))
}

// export returns the local registry as other regions see it: addresses
// rewritten, one entry per (name, rewritten address) keeping the newest.
func (s *Server) export() ([]wireEntry, uint64) {
	entries, version := s.registry.Snapshot()
	byKey := make(map[entryKey]wireEntry, len(entries))
	for _, e := range entries {
		w := s.wire(e)
		k := entryKey{w.Name, w.Address}
		if old, ok := byKey[k]; !ok || w.Version > old.Version {
			byKey[k] = w
		}
	}
	out := make([]wireEntry, 0, len(byKey))
	for _, w := range byKey {
		out = append(out, w)
	}
	return out, version
}

func (s *Server) wire(e Entry) wireEntry {
	return wireEntry{
		Name:    e.Name,
		Address: RewriteAddress(e.Address, s.cfg.WGIP),
		TTLms:   e.TTL.Milliseconds(),
		Version: e.Version,
	}
}

func (s *Server) snapshotMessage(reply bool) []byte {
	entries, version := s.export()
	return encodeMessage(msgSnapshot, &snapshotMsg{Region: s.cfg.Region, Version: version, Entries: entries, Reply: reply})
}

func (s *Server) broadcastDigest() {
	entries, version := s.export()
	var hash uint64
	for _, e := range entries {
		hash ^= entryHash(e.Name, e.Address, e.Version)
	}
	msg := encodeMessage(msgDigest, &digestMsg{Region: s.cfg.Region, Version: version, Count: len(entries), Hash: hash})
	s.queue.QueueBroadcast(&broadcast{name: "digest", msg: msg})
}

func (s *Server) broadcastPut(e Entry, now time.Time) {
	s.broadcastDelta(&deltaMsg{Region: s.cfg.Region, Entry: s.wire(e), SentAt: now.UnixNano()})
}

func (s *Server) broadcastDelete(e Entry, now time.Time) {
	s.broadcastDelta(&deltaMsg{Region: s.cfg.Region, Delete: true, Entry: s.wire(e), SentAt: now.UnixNano()})
}

// broadcastDelta sends a change to every region at once over UDP, and
// queues it for gossip so that a lost packet is made up for.
func (s *Server) broadcastDelta(m *deltaMsg) {
	msg := encodeMessage(msgDelta, m)
	if s.ml != nil {
		for _, n := range s.aliveNodes() {
			s.ml.SendBestEffort(n, msg)
		}
	}
	s.queue.QueueBroadcast(&broadcast{name: "delta/" + m.Entry.Name + "/" + m.Entry.Address, msg: msg})
}

// aliveNodes returns a node of our own for every alive region.
func (s *Server) aliveNodes() []*memberlist.Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	nodes := make([]*memberlist.Node, 0, len(s.regions))
	for name, r := range s.regions {
		if r.state == "alive" {
			nodes = append(nodes, r.node(name))
		}
	}
	return nodes
}

// broadcast is a queued gossip message; a newer one with the same name
// replaces an older one still in the queue.
type broadcast struct {
	name string
	msg  []byte
}

var _ memberlist.NamedBroadcast = (*broadcast)(nil)

func (b *broadcast) Invalidates(other memberlist.Broadcast) bool {
	o, ok := other.(*broadcast)
	return ok && o.name == b.name
}
func (b *broadcast) Name() string    { return b.name }
func (b *broadcast) Message() []byte { return b.msg }
func (b *broadcast) Finished()       {}
