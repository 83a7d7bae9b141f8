package caching

import (
	"slices"

	"planet/internal/hlc"
)

// OpKind is what a replicated record does to its key.
type OpKind byte

// The kinds of replicated records (the first argument of each record of
// CACHE.APPLY).
const (
	// OpSet makes Value, with the absolute expiry ExpireAt (0: none), the
	// key's state at Version.
	OpSet OpKind = 'S'
	// OpDel deletes the key at Version, leaving a tombstone.
	OpDel OpKind = 'D'
	// OpInvalidate drops the key if what the receiver holds is older than
	// Version: sent instead of writes a peer's queue had no room for.
	OpInvalidate OpKind = 'I'
	// OpInvalidateAll drops every key older than Version: sent when a
	// peer fell so far behind that its missed keys were not even kept.
	OpInvalidateAll OpKind = 'A'
)

// Op is one replicated record: the state a write left a key in (not the
// command that wrote it), so that applying it iff its version is newer
// converges whatever order records arrive in.
type Op struct {
	Kind     OpKind
	Key      string
	Value    []byte // OpSet; owned by the Op, never modified
	ExpireAt int64  // OpSet: Unix milliseconds; 0: no TTL
	Version  hlc.Version
}

// tombstone remembers a deleted key's version until a record older than
// it can no longer arrive.
type tombstone struct {
	version hlc.Version
	until   int64 // Unix milliseconds: forgotten then
}

// tombRef queues a tombstone for forgetting, in order of until.
type tombRef struct {
	key   string
	until int64
}

// ApplyStats count the records a Store received from its peers.
type ApplyStats struct {
	Applied       int64 // newer than what the Store held: applied
	Stale         int64 // not newer: ignored
	Late          int64 // older than the tombstone grace: applied as an invalidation
	Invalidations int64 // OpInvalidate and OpInvalidateAll received
	Refused       int64 // a value with no room under maxmemory: applied as an invalidation
}

// EnableReplication makes the Store record what every write leaves behind
// (see Tx.Ops) and keep tombstones of deleted keys for grace
// milliseconds past their version's wall time: a replicated record older
// than that is applied as an invalidation, so a late SET cannot bring a
// deleted key back. Call it before the Store is used.
func (s *Store) EnableReplication(graceMillis int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grace = graceMillis
	s.tombs = make(map[string]tombstone)
}

// markDirty records that the transaction changed key, for Ops.
func (tx *Tx) markDirty(key string) {
	if tx.record {
		tx.dirty = append(tx.dirty, key)
	}
}

// records returns the encoding (see appendRecord) of what the transaction
// changed: each changed key's state at the end of it, and their number.
func (tx *Tx) records() ([]byte, int) {
	if len(tx.dirty) == 0 {
		return nil, 0
	}
	keys := tx.dirty
	if len(keys) > 1 {
		keys = slices.Clone(keys)
		slices.Sort(keys)
		keys = slices.Compact(keys)
	}
	s := tx.s
	var b []byte
	n := 0
	for _, k := range keys {
		if e := s.lookup(k); e != nil {
			b = appendRecord(b, OpSet, k, e.value, e.expireAt, e.version)
			n++
		} else if t, ok := s.tombs[k]; ok {
			b = appendRecord(b, OpDel, k, nil, 0, t.version)
			n++
		}
	}
	return b, n
}

// deleteEntry deletes e as a write does: the deletion is replicated, and
// leaves a tombstone at a new version.
func (tx *Tx) deleteEntry(e *entry) {
	s := tx.s
	s.removeLocked(e)
	if s.tombs != nil {
		s.putTombLocked(e.key, s.clock.Now())
	}
	tx.markDirty(e.key)
}

// dropLocked deletes e as a local decision (expiry, eviction,
// invalidation): nothing is replicated, but while a record older than e
// could still arrive, a tombstone at e's version keeps it out.
func (s *Store) dropLocked(e *entry, now int64) {
	s.removeLocked(e)
	if s.tombs != nil && versionMillis(e.version)+s.grace > now {
		s.putTombLocked(e.key, e.version)
	}
}

// putTombLocked leaves a tombstone of key at v.
func (s *Store) putTombLocked(key string, v hlc.Version) {
	if t, ok := s.tombs[key]; ok && !v.Newer(t.version) {
		return
	}
	until := versionMillis(v) + s.grace
	s.tombs[key] = tombstone{version: v, until: until}
	s.tombQ = append(s.tombQ, tombRef{key: key, until: until})
}

// forgetTombsLocked forgets the tombstones whose grace passed at now.
func (s *Store) forgetTombsLocked(now int64) {
	i := 0
	for ; i < len(s.tombQ) && s.tombQ[i].until <= now; i++ {
		r := s.tombQ[i]
		if t, ok := s.tombs[r.key]; ok && t.until == r.until {
			delete(s.tombs, r.key)
		}
	}
	if i > 0 {
		s.tombQ = slices.Delete(s.tombQ, 0, i)
	}
	if !s.floor.IsZero() && s.floorUntil <= now {
		s.floor = hlc.Version{}
	}
}

// versionMillis is v's wall time in Unix milliseconds.
func versionMillis(v hlc.Version) int64 { return v.WallTime().UnixMilli() }

// currentLocked returns the version key holds (its entry's, its
// tombstone's, or the invalidate-all floor) and the entry, if any.
func (s *Store) currentLocked(key []byte) (hlc.Version, *entry) {
	if e := s.lookupBytes(key); e != nil {
		return e.version, e
	}
	if t, ok := s.tombs[string(key)]; ok {
		return t.version, nil
	}
	if !s.floor.IsZero() {
		return s.floor, nil
	}
	return hlc.Version{}, nil
}

// Apply applies records received from a peer (the arguments of
// CACHE.APPLY, checked with checkRecords), each iff it is newer than
// what the Store holds for its key. A value older than the tombstone
// grace, or with no room under maxmemory, is applied as an invalidation
// of its key instead. Nothing is replicated further.
func (s *Store) Apply(blobs [][]byte) {
	now := s.now().UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tombs == nil {
		return
	}
	var r recordView
	for _, b := range blobs {
		rr := recordReader{b: b}
		for {
			if ok, err := rr.next(&r); !ok || err != nil {
				break
			}
			s.applyLocked(&r, now, false)
		}
	}
}

// Load applies entries copied from a peer at warm start, as Apply but
// with no grace check: they are the peer's state, however old.
func (s *Store) Load(ops []Op) {
	now := s.now().UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range ops {
		op := &ops[i]
		s.applyLocked(&recordView{Kind: op.Kind, Key: []byte(op.Key), Value: op.Value, ExpireAt: op.ExpireAt, Version: op.Version}, now, true)
	}
}

func (s *Store) applyLocked(op *recordView, now int64, load bool) {
	s.clock.Observe(op.Version)
	if op.Kind == OpInvalidateAll {
		s.apply.Invalidations++
		s.invalidateAllLocked(op.Version, now)
		return
	}
	if op.Kind == OpInvalidate {
		s.apply.Invalidations++
	}
	cur, e := s.currentLocked(op.Key)
	if !op.Version.Newer(cur) {
		s.apply.Stale++
		return
	}
	kind := op.Kind
	if kind == OpSet && !load && s.tombs != nil && versionMillis(op.Version)+s.grace <= now {
		s.apply.Late++
		kind = OpInvalidate
	}
	if kind == OpSet && op.ExpireAt != 0 && op.ExpireAt <= now {
		kind = OpDel // expired on arrival
	}
	if kind == OpSet {
		if e == nil {
			e = s.insertLocked(string(op.Key))
		}
		if e.value != nil && cap(e.value) == len(op.Value) {
			copy(e.value, op.Value)
		} else {
			s.used += int64(len(op.Value) - cap(e.value))
			e.value = clone(op.Value)
		}
		s.setExpireLocked(e, op.ExpireAt)
		e.version = op.Version
		if s.tombs != nil {
			delete(s.tombs, string(op.Key))
		}
		tx := Tx{s: s, now: now}
		if tx.makeRoom() {
			s.apply.Applied++
			return
		}
		s.apply.Refused++
		kind = OpInvalidate
	}
	if e = s.lookupBytes(op.Key); e != nil {
		s.removeLocked(e)
	}
	if s.tombs != nil {
		s.putTombLocked(string(op.Key), op.Version)
	}
	if kind != OpInvalidate {
		s.apply.Applied++
	}
}

// invalidateAllLocked drops every entry older than v and keeps out older
// records until v's grace passes.
func (s *Store) invalidateAllLocked(v hlc.Version, now int64) {
	for _, e := range slices.Clone(s.all) {
		if v.Newer(e.version) {
			s.removeLocked(e)
		}
	}
	if v.Newer(s.floor) {
		s.floor, s.floorUntil = v, versionMillis(v)+s.grace
	}
}

// ApplyStats returns the counts of records received from peers.
func (s *Store) ApplyStats() ApplyStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apply
}

// Tombstones returns the number of tombstones held.
func (s *Store) Tombstones() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tombs)
}

// Dump returns the entries of the buckets from cursor on, whole buckets
// until at least count entries, and the cursor of the next call (0 after
// the last bucket): the pages a warm start copies.
func (s *Store) Dump(cursor, count int) ([]Op, int) {
	now := s.now().UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	var ops []Op
	for ; cursor < numBuckets && len(ops) < count; cursor++ {
		s.forEachIn(cursor, func(e *entry) {
			if e.expireAt == 0 || e.expireAt > now {
				ops = append(ops, Op{Kind: OpSet, Key: e.key, Value: clone(e.value), ExpireAt: e.expireAt, Version: e.version})
			}
		})
	}
	if cursor >= numBuckets {
		cursor = 0
	}
	return ops, cursor
}
