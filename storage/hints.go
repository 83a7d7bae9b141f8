package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/util"

	"planet/internal/peer"
)

// hints is the hinted-handoff store: for each peer, the keys it may have
// missed. A hint names a key, not a value: when the peer is back, it is
// sent the key's current entry (newer versions win anyway), so a key
// written many times while the peer was down is sent once. Hints live in
// the state database ('h' peer 0x00 key -> time added) and survive
// restarts.
type hints struct {
	db    *leveldb.DB
	now   func() time.Time
	count atomic.Int64
	mu    sync.Mutex // serialises add against replay's delete of the same hint
}

func newHints(e *Engine, now func() time.Time) *hints {
	h := &hints{db: e.db, now: now}
	it := e.db.NewIterator(util.BytesPrefix([]byte{prefixHint}), nil)
	var n int64
	for it.Next() {
		n++
	}
	it.Release()
	h.count.Store(n)
	return h
}

func hintKey(peerAddr string, key []byte) []byte {
	k := make([]byte, 0, 2+len(peerAddr)+len(key))
	k = append(k, prefixHint)
	k = append(k, peerAddr...)
	k = append(k, 0)
	return append(k, key...)
}

// add records that peerAddr may be missing key.
func (h *hints) add(peerAddr string, key []byte) {
	k := hintKey(peerAddr, key)
	h.mu.Lock()
	defer h.mu.Unlock()
	if ok, _ := h.db.Has(k, nil); !ok {
		h.count.Add(1)
	}
	h.db.Put(k, binary.BigEndian.AppendUint64(nil, uint64(h.now().UnixMilli())), nil)
}

func (h *hints) pending() int64 { return h.count.Load() }

// hint is one stored hint.
type hint struct {
	peer  string
	key   []byte
	added time.Time
}

// list returns up to n hints, starting after the hint key from (nil: the
// first); the second result is where to continue.
func (h *hints) list(from []byte, n int) ([]hint, []byte) {
	r := util.BytesPrefix([]byte{prefixHint})
	if from != nil {
		r.Start = append(append([]byte(nil), from...), 0)
	}
	it := h.db.NewIterator(r, nil)
	defer it.Release()
	var out []hint
	var last []byte
	for len(out) < n && it.Next() {
		k := it.Key()
		i := bytes.IndexByte(k, 0)
		if i < 0 {
			continue
		}
		var added time.Time
		if v := it.Value(); len(v) == 8 {
			added = time.UnixMilli(int64(binary.BigEndian.Uint64(v)))
		}
		out = append(out, hint{peer: string(k[1:i]), key: append([]byte(nil), k[i+1:]...), added: added})
		last = append(last[:0], k...)
	}
	return out, last
}

// remove deletes a hint if it was not re-added since added.
func (h *hints) remove(x hint) {
	k := hintKey(x.peer, x.key)
	h.mu.Lock()
	defer h.mu.Unlock()
	v, err := h.db.Get(k, nil)
	if err != nil || len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > x.added.UnixMilli() {
		return
	}
	if h.db.Delete(k, nil) == nil {
		h.count.Add(-1)
	}
}

// replayHints sends hinted keys to their peers once they are reachable.
func (s *Server) replayHints(ctx context.Context) error {
	t := time.NewTicker(time.Second)
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
			if !members[x.peer] {
				if s.cfg.Now().Sub(x.added) > s.cfg.HintWindow {
					s.hints.remove(x) // anti-entropy repairs the peer
				}
				continue
			}
			mu.Lock()
			skip := failed[x.peer]
			mu.Unlock()
			p := s.pool.Get(x.peer)
			if skip || !p.Available() {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if s.handOff(ctx, p, x.key) {
					s.hints.remove(x)
					return
				}
				mu.Lock()
				failed[x.peer] = true
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
}

// handOff sends key's current entry to p.
func (s *Server) handOff(ctx context.Context, p *peer.Client, key []byte) bool {
	e, err := s.eng.Get(key)
	if errors.Is(err, ErrNotFound) {
		return true // purged: nothing to hand off
	}
	if err != nil {
		return false
	}
	m := Mutation{Key: key, Value: e.Value, Version: e.Version, Origin: e.Origin, Delete: e.Deleted}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QuorumTimeout)
	defer cancel()
	_, err = p.Do(ctx, replArgs(m, false)...)
	if err == nil {
		s.metrics.handoffs.Inc()
	}
	return err == nil
}
