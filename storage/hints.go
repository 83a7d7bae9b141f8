package storage

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"planet/internal/peer"
	"planet/storage/engine"
)

// hints is the hinted-handoff store (see engine.Hint): for each peer, the
// keys it may have missed, kept in the engine's state so that they survive
// restarts, and their count.
type hints struct {
	eng   *engine.Engine
	now   func() time.Time
	log   *slog.Logger
	lost  func() // a hint could not be stored
	count atomic.Int64
}

func newHints(e *engine.Engine, now func() time.Time, log *slog.Logger, lost func()) (*hints, error) {
	n, err := e.CountHints()
	if err != nil {
		return nil, err
	}
	h := &hints{eng: e, now: now, log: log, lost: lost}
	h.count.Store(n)
	return h, nil
}

// add records that peerAddr may be missing key. A hint that cannot be
// stored is logged and counted, never dropped silently; anti-entropy then
// repairs the peer.
func (h *hints) add(peerAddr string, key []byte) {
	isNew, err := h.eng.PutHint(peerAddr, key, h.now())
	if err != nil {
		h.lost()
		h.log.Error("hint lost; anti-entropy will repair the peer", "peer", peerAddr, "err", err)
		return
	}
	if isNew {
		h.count.Add(1)
	}
}

func (h *hints) pending() int64 { return h.count.Load() }

// list returns up to n hints after from; see engine.Engine.Hints.
func (h *hints) list(from []byte, n int) ([]engine.Hint, []byte) {
	hs, next, err := h.eng.Hints(from, n)
	if err != nil {
		h.log.Warn("listing hints failed", "err", err)
	}
	return hs, next
}

// remove deletes a delivered (or expired) hint unless it was re-added.
func (h *hints) remove(x engine.Hint) {
	deleted, err := h.eng.DeleteHint(x)
	if err != nil {
		h.log.Warn("removing a hint failed", "err", err)
	}
	if deleted {
		h.count.Add(-1)
	}
}

// replayHints sends hinted keys to their peers once they are reachable.
func (s *Server) replayHints(ctx context.Context) error {
	t := time.NewTicker(s.cfg.HintReplayInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if s.hints.pending() > 0 {
			s.replayHintsOnce(ctx)
		}
	}
}

func (s *Server) replayHintsOnce(ctx context.Context) {
	members := make(map[string]bool)
	for _, a := range s.peers.addrs() {
		members[a] = true
	}
	var from []byte
	var mu sync.Mutex
	failed := make(map[string]bool) // peers that refused a hint this round: skip the rest
	for ctx.Err() == nil {
		batch, next := s.hints.list(from, 256)
		if len(batch) == 0 {
			return
		}
		from = next
		var wg sync.WaitGroup
		for _, x := range batch {
			if !members[x.Peer] {
				if s.cfg.Now().Sub(x.Added) > s.cfg.HintWindow {
					s.hints.remove(x) // anti-entropy repairs the peer
				}
				continue
			}
			mu.Lock()
			skip := failed[x.Peer]
			mu.Unlock()
			p := s.pool.Get(x.Peer)
			if skip || !p.Available() {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if s.handOff(ctx, p, x.Key) {
					s.hints.remove(x)
					return
				}
				mu.Lock()
				failed[x.Peer] = true
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
}

// handOff sends key's current entry to p.
func (s *Server) handOff(ctx context.Context, p *peer.Client, key []byte) bool {
	e, err := s.eng.Get(key)
	if errors.Is(err, engine.ErrNotFound) {
		return true // purged: nothing to hand off
	}
	if err != nil {
		return false
	}
	m := engine.Mutation{Key: key, Value: e.Value, Version: e.Version, Origin: e.Origin, Delete: e.Deleted}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QuorumTimeout)
	defer cancel()
	_, err = p.Do(ctx, replArgs(m, false)...)
	if err == nil {
		s.metrics.handoffs.Inc()
	}
	return err == nil
}
