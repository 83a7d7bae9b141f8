package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/syndtr/goleveldb/leveldb/util"
)

// Hint records that a peer replica may be missing a key (hinted handoff):
// the key, not its value, so that a key written many times while the peer
// was away is sent once, with its entry of the time it is sent. Hints live
// in the state database ('h' peer 0x00 key -> time added) and survive
// restarts; the server decides when to send them.
type Hint struct {
	Peer  string
	Key   []byte
	Added time.Time
}

func hintKey(peer string, key []byte) []byte {
	k := make([]byte, 0, 2+len(peer)+len(key))
	k = append(k, prefixHint)
	k = append(k, peer...)
	k = append(k, 0)
	return append(k, key...)
}

// PutHint records (or refreshes) the hint that peer may be missing key;
// isNew reports whether there was none.
func (e *Engine) PutHint(peer string, key []byte, added time.Time) (isNew bool, err error) {
	k := hintKey(peer, key)
	e.hintMu.Lock()
	defer e.hintMu.Unlock()
	had, err := e.db.Has(k, nil)
	if err != nil {
		return false, fmt.Errorf("storage: hint: %w", err)
	}
	if err := e.db.Put(k, binary.BigEndian.AppendUint64(nil, uint64(added.UnixMilli())), nil); err != nil {
		return false, fmt.Errorf("storage: hint: %w", err)
	}
	return !had, nil
}

// Hints returns up to n hints, starting after the hint key from (nil: the
// first); next is where to continue.
func (e *Engine) Hints(from []byte, n int) (hints []Hint, next []byte, err error) {
	r := util.BytesPrefix([]byte{prefixHint})
	if from != nil {
		r.Start = append(append([]byte(nil), from...), 0)
	}
	it := e.db.NewIterator(r, nil)
	defer it.Release()
	for len(hints) < n && it.Next() {
		k := it.Key()
		i := bytes.IndexByte(k, 0)
		if i < 0 {
			continue
		}
		var added time.Time
		if v := it.Value(); len(v) == 8 {
			added = time.UnixMilli(int64(binary.BigEndian.Uint64(v)))
		}
		hints = append(hints, Hint{Peer: string(k[1:i]), Key: append([]byte(nil), k[i+1:]...), Added: added})
		next = append(next[:0], k...)
	}
	if err := it.Error(); err != nil {
		return nil, nil, fmt.Errorf("storage: hints: %w", err)
	}
	return hints, next, nil
}

// DeleteHint removes h unless it was refreshed after h.Added; deleted
// reports whether it did.
func (e *Engine) DeleteHint(h Hint) (deleted bool, err error) {
	k := hintKey(h.Peer, h.Key)
	e.hintMu.Lock()
	defer e.hintMu.Unlock()
	v, err := e.db.Get(k, nil)
	if err != nil || len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > h.Added.UnixMilli() {
		return false, nil // gone, or refreshed
	}
	if err := e.db.Delete(k, nil); err != nil {
		return false, fmt.Errorf("storage: hint: %w", err)
	}
	return true, nil
}

// CountHints counts the stored hints.
func (e *Engine) CountHints() (int64, error) {
	it := e.db.NewIterator(util.BytesPrefix([]byte{prefixHint}), nil)
	defer it.Release()
	var n int64
	for it.Next() {
		n++
	}
	return n, it.Error()
}
