package caching

import (
	"hash/maphash"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"planet/internal/hlc"
)

// numBuckets is the number of hash buckets of the keyspace; SCAN's cursor
// walks them in order.
const numBuckets = 1024

// EntryOverhead is what an entry costs beyond its key and value bytes: the
// entry struct itself, its slot in a bucket map (a hash and a pointer) and
// its slot in the sampling slices (a pointer each). An entry then costs
// len(key) + cap(value) + EntryOverhead bytes.
const EntryOverhead = int64(unsafe.Sizeof(entry{})) + 8 + 8 + 2*8

// entry is one key of the keyspace.
type entry struct {
	key      string
	hash     uint64 // of key: its bucket and its slot there
	next     *entry // another entry whose key has the same hash
	value    []byte
	expireAt int64       // Unix milliseconds; 0: no TTL
	version  hlc.Version // of the write that made the value or TTL
	lastUsed uint64      // Store.tick at the last access, for LRU
	allIdx   int         // position in Store.all
	volIdx   int         // position in Store.volatile; -1 without TTL
}

// cost is the memory the entry is accounted for.
func (e *entry) cost() int64 { return int64(len(e.key)+cap(e.value)) + EntryOverhead }

// Stats are the Store's counters since it was created, as INFO stats
// names them.
type Stats struct {
	Hits, Misses int64 // keyspace_hits, keyspace_misses: reads of a key
	Expired      int64 // expired_keys: deleted because their TTL passed
	Evicted      int64 // evicted_keys: deleted to stay under MaxMemory
}

// Store is the keyspace; safe for concurrent use. Commands run under its
// lock through Do.
type Store struct {
	now   func() time.Time
	clock *hlc.Clock
	seed  maphash.Seed

	mu      sync.Mutex
	buckets [numBuckets]map[uint64]*entry // guarded by mu; by key hash, collisions chained

	all       []*entry   // every entry, for sampling; guarded by mu
	volatile  []*entry   // entries with a TTL; guarded by mu
	used      int64      // bytes, sum of entry costs; guarded by mu
	tick      uint64     // LRU clock; guarded by mu
	rng       *rand.Rand // guarded by mu
	stats     Stats      // guarded by mu
	maxMemory int64      // guarded by mu
	policy    Policy     // guarded by mu

	// Replication (replica.go); tombs is nil until EnableReplication.
	grace      int64                // tombstone grace, milliseconds
	tombs      map[string]tombstone // guarded by mu
	tombQ      []tombRef            // guarded by mu; in order of until
	floor      hlc.Version          // guarded by mu; older records are stale (OpInvalidateAll)
	floorUntil int64                // guarded by mu
	apply      ApplyStats           // guarded by mu

	// loading refuses clients' commands (-LOADING) during a warm start.
	loading atomic.Bool
}

// NewStore returns an empty Store whose versions come from clock and whose
// TTLs follow now, with the memory limit maxMemory (0: none) and policy.
func NewStore(clock *hlc.Clock, now func() time.Time, maxMemory int64, policy Policy) *Store {
	s := &Store{now: now, clock: clock, seed: maphash.MakeSeed(), maxMemory: maxMemory, policy: policy,
		rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	for i := range s.buckets {
		s.buckets[i] = make(map[uint64]*entry)
	}
	return s
}

// Tx is the Store as one command sees it: locked, at one instant.
type Tx struct {
	s      *Store
	now    int64    // Unix milliseconds
	record bool     // keep dirty, for Ops
	dirty  []string // keys written, for records (replica.go)
}

// Do runs fn under the Store's lock and returns what it returns.
func (s *Store) Do(fn func(tx *Tx) []byte) []byte {
	now := s.now().UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn(&Tx{s: s, now: now})
}

// Write runs fn under the Store's lock and returns what it returns, with,
// if record, the encoded records of what it changed and their number
// (see appendRecord).
func (s *Store) Write(record bool, fn func(tx *Tx) []byte) (reply, recs []byte, n int) {
	now := s.now().UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := Tx{s: s, now: now, record: record}
	reply = fn(&tx)
	recs, n = tx.records()
	return reply, recs, n
}

// Now returns the instant of the transaction, in Unix milliseconds.
func (tx *Tx) Now() int64 { return tx.now }

// lookup returns key's entry, expired or not; nil if none. Buckets map a
// key's 64-bit hash to its entry, so that a lookup reads the key's bytes
// only in the entry it finds, not in every slot it probes.
func (s *Store) lookup(key string) *entry {
	h := maphash.String(s.seed, key)
	for e := s.buckets[h%numBuckets][h]; e != nil; e = e.next {
		if e.key == key {
			return e
		}
	}
	return nil
}

// lookupBytes is lookup for a key in bytes.
func (s *Store) lookupBytes(key []byte) *entry {
	h := maphash.Bytes(s.seed, key)
	for e := s.buckets[h%numBuckets][h]; e != nil; e = e.next {
		if e.key == string(key) {
			return e
		}
	}
	return nil
}

// forEachIn calls fn with every entry of bucket i.
func (s *Store) forEachIn(i int, fn func(e *entry)) {
	for _, head := range s.buckets[i] {
		for e := head; e != nil; e = e.next {
			fn(e)
		}
	}
}

// find returns the live entry of key, deleting it if it expired.
func (tx *Tx) find(key []byte) *entry {
	s := tx.s
	e := s.lookupBytes(key)
	if e == nil {
		return nil
	}
	if e.expireAt != 0 && e.expireAt <= tx.now {
		s.dropLocked(e, tx.now)
		s.stats.Expired++
		return nil
	}
	s.tick++
	e.lastUsed = s.tick
	return e
}

// read is find for a command that reads the key: it counts a hit or a
// miss.
func (tx *Tx) read(key []byte) *entry {
	e := tx.find(key)
	if e == nil {
		tx.s.stats.Misses++
	} else {
		tx.s.stats.Hits++
	}
	return e
}

// set makes value (copied) the value of key with the TTL expireAt (0:
// none), or keeping the key's TTL if keepTTL, and returns the entry.
func (tx *Tx) set(key, value []byte, expireAt int64, keepTTL bool) *entry {
	return tx.setFound(tx.find(key), key, value, expireAt, keepTTL)
}

// setFound is set when the caller already looked key up: e is its live
// entry, or nil.
func (tx *Tx) setFound(e *entry, key, value []byte, expireAt int64, keepTTL bool) *entry {
	s := tx.s
	if e == nil {
		e = s.insertLocked(string(key))
	}
	if e.value != nil && cap(e.value) == len(value) {
		copy(e.value, value) // the entry owns its value: overwrite it in place
	} else {
		s.used += int64(len(value) - cap(e.value))
		e.value = clone(value)
	}
	if !keepTTL {
		s.setExpireLocked(e, expireAt)
	}
	e.version = s.clock.Now()
	tx.markDirty(e.key)
	return e
}

// insertLocked adds key with an empty value and no TTL, and returns its
// entry.
func (s *Store) insertLocked(key string) *entry {
	e := &entry{key: key, volIdx: -1, hash: maphash.String(s.seed, key)}
	m := s.buckets[e.hash%numBuckets]
	e.next = m[e.hash]
	m[e.hash] = e
	e.allIdx = len(s.all)
	s.all = append(s.all, e)
	s.used += e.cost()
	s.tick++
	e.lastUsed = s.tick
	return e
}

// clone returns a copy of b with no spare capacity, so that an entry is
// accounted for what its value really holds.
func clone(b []byte) []byte {
	c := make([]byte, len(b))
	copy(c, b)
	return c
}

// replaceValue makes value (owned by the entry from now on) e's value,
// keeping its TTL.
func (tx *Tx) replaceValue(e *entry, value []byte) {
	tx.s.used += int64(cap(value) - cap(e.value))
	e.value = value
	e.version = tx.s.clock.Now()
	tx.markDirty(e.key)
}

// setExpire sets e's TTL to expireAt (Unix milliseconds; 0 removes it).
func (tx *Tx) setExpire(e *entry, expireAt int64) {
	tx.s.setExpireLocked(e, expireAt)
	e.version = tx.s.clock.Now()
	tx.markDirty(e.key)
}

// setExpireLocked sets e's TTL to expireAt, keeping its version.
func (s *Store) setExpireLocked(e *entry, expireAt int64) {
	switch {
	case expireAt != 0 && e.volIdx < 0:
		e.volIdx = len(s.volatile)
		s.volatile = append(s.volatile, e)
	case expireAt == 0 && e.volIdx >= 0:
		s.volatile = removeAt(s.volatile, e.volIdx, func(m *entry, i int) { m.volIdx = i })
		e.volIdx = -1
	}
	e.expireAt = expireAt
}

// remove deletes key and reports whether it existed (and had not expired).
func (tx *Tx) remove(key []byte) bool {
	e := tx.find(key)
	if e != nil {
		tx.deleteEntry(e)
	}
	return e != nil
}

// removeLocked deletes e from the keyspace.
func (s *Store) removeLocked(e *entry) {
	m := s.buckets[e.hash%numBuckets]
	if head := m[e.hash]; head == e {
		if e.next == nil {
			delete(m, e.hash)
		} else {
			m[e.hash] = e.next
		}
	} else {
		for p := head; p != nil; p = p.next {
			if p.next == e {
				p.next = e.next
				break
			}
		}
	}
	e.next = nil
	s.all = removeAt(s.all, e.allIdx, func(m *entry, i int) { m.allIdx = i })
	if e.volIdx >= 0 {
		s.volatile = removeAt(s.volatile, e.volIdx, func(m *entry, i int) { m.volIdx = i })
	}
	s.used -= e.cost()
}

// removeAt removes the element at i by moving the last one there, telling
// moved its new position.
func removeAt(list []*entry, i int, moved func(*entry, int)) []*entry {
	last := len(list) - 1
	if i != last {
		list[i] = list[last]
		moved(list[i], i)
	}
	list[last] = nil
	return list[:last]
}

// flush deletes every key.
func (tx *Tx) flush() {
	s := tx.s
	for i := range s.buckets {
		s.buckets[i] = make(map[uint64]*entry)
	}
	s.all, s.volatile, s.used = nil, nil, 0
}

// size returns the number of keys, expired ones not yet deleted included
// (as Redis's DBSIZE).
func (tx *Tx) size() int { return len(tx.s.all) }

// Len returns the number of keys, expired ones not yet deleted included.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.all)
}

// Volatile returns the number of keys with a TTL.
func (s *Store) Volatile() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.volatile)
}

// Used returns the memory the entries are accounted for, in bytes.
func (s *Store) Used() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

// Stats returns the Store's counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Version returns the version of key's entry, if it exists.
func (s *Store) Version(key string) (hlc.Version, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.lookup(key)
	if e == nil {
		return hlc.Version{}, false
	}
	return e.version, true
}
