package engine

import (
	"hash/maphash"
	"sync"
)

// rowCache keeps entries of recently written and read keys in memory, in
// front of goleveldb (Cassandra's row cache): a hit costs a map lookup
// instead of a goleveldb read, for quorum reads, digest reads and the
// committer's "newer version wins" check alike.
//
// It never holds an entry that differs from goleveldb's: the committer, the
// only writer, updates it after every batch it writes, and a reader that
// missed fills it only if no write touched the key's shard since the reader
// looked (the shard's write stamp). It is bounded by bytes; a full shard
// evicts entries at random, as Redis's allkeys-random does.
type rowCache struct {
	seed     maphash.Seed
	shards   [cacheShards]cacheShard
	maxBytes int64 // per shard
}

const cacheShards = 64

type cacheShard struct {
	mu      sync.RWMutex
	entries map[string]*Entry   // immutable once stored
	pinned  map[string]struct{} // entries not yet in goleveldb: never evicted
	bytes   int64
	stamp   uint64 // bumped by every write through the cache
	_       [32]byte
}

// absent is the cached entry of a key the replica holds nothing for (a
// negative entry), so that reads of missing keys hit the cache too.
var absent = &Entry{}

// entryOverhead approximates the memory of a cached entry beyond its key
// and value: the map slot, the Entry, the version's node and origin.
const entryOverhead = 128

// newRowCache returns a cache of about maxBytes, or nil (no cache) if
// maxBytes is not positive.
func newRowCache(maxBytes int64) *rowCache {
	if maxBytes <= 0 {
		return nil
	}
	c := &rowCache{seed: maphash.MakeSeed(), maxBytes: max(maxBytes/cacheShards, 1)}
	for i := range c.shards {
		c.shards[i].entries = make(map[string]*Entry)
		c.shards[i].pinned = make(map[string]struct{})
	}
	return c
}

func (c *rowCache) shard(key []byte) *cacheShard {
	return &c.shards[maphash.Bytes(c.seed, key)%cacheShards]
}

func (c *rowCache) shardOf(key string) *cacheShard {
	return &c.shards[maphash.String(c.seed, key)%cacheShards]
}

// get returns key's cached entry (absent if the replica holds nothing for
// it), or on a miss nil and the shard's stamp to pass to fill.
func (c *rowCache) get(key []byte) (*Entry, uint64) {
	sh := c.shard(key)
	sh.mu.RLock()
	e, stamp := sh.entries[string(key)], sh.stamp
	sh.mu.RUnlock()
	return e, stamp
}

// fill caches e (absent: nothing), read from goleveldb after get missed
// with stamp, unless a write went through the shard since.
func (c *rowCache) fill(key []byte, e *Entry, stamp uint64) {
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.stamp != stamp {
		return
	}
	if _, ok := sh.entries[string(key)]; ok {
		return
	}
	if e != absent {
		e = cloneEntry(*e)
	}
	c.storeLocked(sh, string(key), e, false)
}

// set records what the committer wrote for key: e, or nothing (nil: the key
// was purged; it is then cached as absent). With pin, the write is not in
// goleveldb yet: the entry stays, whatever the bound, until unpin. It
// returns the entry stored (a copy of e, or absent).
func (c *rowCache) set(key string, e *Entry, pin bool) *Entry {
	sh := c.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.stamp++
	if old, ok := sh.entries[key]; ok {
		sh.bytes -= entrySize(key, old)
		delete(sh.entries, key)
	}
	stored := absent
	if e != nil {
		stored = cloneEntry(*e)
	}
	c.storeLocked(sh, key, stored, pin)
	return stored
}

// unpin lets key's entry be evicted: goleveldb holds it now.
func (c *rowCache) unpin(key string) {
	sh := c.shardOf(key)
	sh.mu.Lock()
	delete(sh.pinned, key)
	sh.mu.Unlock()
}

func (c *rowCache) storeLocked(sh *cacheShard, key string, e *Entry, pin bool) {
	size := entrySize(key, e)
	if pin {
		sh.pinned[key] = struct{}{}
	} else if _, ok := sh.pinned[key]; ok {
		pin = true // a fill cannot get here (the key is cached), a set can
	}
	if size > c.maxBytes && !pin {
		return
	}
	if sh.bytes+size > c.maxBytes {
		for k, old := range sh.entries {
			if _, ok := sh.pinned[k]; ok {
				continue
			}
			sh.bytes -= entrySize(k, old)
			delete(sh.entries, k)
			if sh.bytes+size <= c.maxBytes {
				break
			}
		}
	}
	sh.entries[key] = e
	sh.bytes += size
}

func entrySize(key string, e *Entry) int64 {
	return int64(len(key) + len(e.Value) + entryOverhead)
}

// cloneEntry copies e's value, which may alias a buffer its owner reuses.
func cloneEntry(e Entry) *Entry {
	if e.Value != nil {
		e.Value = append([]byte(nil), e.Value...)
	}
	return &e
}
