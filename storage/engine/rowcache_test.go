package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestRowCacheFillLosesToWrite: a reader misses and reads goleveldb; the
// committer then writes the key, and the key is evicted; the reader's fill
// must not put its older entry back.
func TestRowCacheFillLosesToWrite(t *testing.T) {
	c := newRowCache(cacheShards * 200) // about one entry per shard
	key := []byte("k")
	other := ""
	for i := 0; other == ""; i++ {
		if k := fmt.Sprint("o", i); c.shardOf(k) == c.shard(key) {
			other = k
		}
	}
	if e, _ := c.get(key); e != nil {
		t.Fatal("hit in an empty cache")
	}
	_, stamp := c.get(key)
	c.set("k", &Entry{Value: []byte("new"), Version: ver(2, "sfo-1")}, false)
	c.set(other, &Entry{Value: []byte("x"), Version: ver(2, "sfo-1")}, false) // evicts k
	if e, _ := c.get(key); e != nil {
		t.Fatal("k was not evicted; the test needs a smaller cache")
	}
	c.fill(key, &Entry{Value: []byte("old"), Version: ver(1, "sfo-1")}, stamp)
	if e, _ := c.get(key); e != nil {
		t.Fatalf("cached %q, filled after a write to its shard", e.Value)
	}
	_, stamp = c.get(key)
	c.fill(key, &Entry{Value: []byte("new"), Version: ver(2, "sfo-1")}, stamp)
	if e, _ := c.get(key); e == nil || string(e.Value) != "new" {
		t.Fatalf("cached %+v, want the entry filled", e)
	}
	c.set("k", nil, false)
	if e, _ := c.get(key); e != absent {
		t.Fatalf("cached %+v after a purge, want absent", e)
	}
}

// TestRowCacheBound: the cache stays within its bytes, and keeps what was
// written last.
func TestRowCacheBound(t *testing.T) {
	const max = 1 << 20
	c := newRowCache(max)
	value := make([]byte, 1000)
	for i := range 10_000 {
		c.set(fmt.Sprint("key", i), &Entry{Value: value, Version: ver(1, "sfo-1")}, false)
	}
	var total int64
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		total += sh.bytes
		n += len(sh.entries)
		var sum int64
		for k, e := range sh.entries {
			sum += entrySize(k, e)
		}
		if sum != sh.bytes || sh.bytes > c.maxBytes {
			t.Fatalf("shard %d: %d bytes counted, %d held, bound %d", i, sh.bytes, sum, c.maxBytes)
		}
	}
	if total > max || n == 0 {
		t.Fatalf("%d entries, %d bytes; want some, within %d", n, total, max)
	}
	if e, _ := c.get([]byte("key9999")); e == nil {
		t.Error("the last entry written was evicted")
	}
}

// TestRowCacheCoherent writes one key with rising versions while readers
// read it: no reader ever sees the version go back, and at the end every
// read returns the last write (with the cache on, and off).
func TestRowCacheCoherent(t *testing.T) {
	// A cache of about one entry per shard: the other keys written evict
	// k, so that readers miss and fill while k is written.
	for _, cacheBytes := range []int64{cacheShards * 200, -1} {
		t.Run(fmt.Sprint("cache=", cacheBytes), func(t *testing.T) {
			e := openTest(t, Config{CacheBytes: cacheBytes, Durability: DurabilityNever})
			const writes = 1000
			var stop atomic.Bool
			var wg sync.WaitGroup
			errs := make(chan error, 2)
			for range 2 {
				wg.Go(func() {
					var last uint64
					for ; !stop.Load(); runtime.Gosched() {
						ent, err := e.Get([]byte("k"))
						if errors.Is(err, ErrNotFound) {
							continue
						}
						if err != nil {
							errs <- err
							return
						}
						if ent.Version.Time < last {
							errs <- fmt.Errorf("read version %d after %d", ent.Version.Time, last)
							return
						}
						last = ent.Version.Time
					}
				})
			}
			for i := range uint64(writes) {
				r := e.Apply(context.Background(), Mutation{Key: []byte("k"), Value: []byte(fmt.Sprint(i)), Version: ver(i, "sfo-1"), Origin: "sfo"})
				if r.Err != nil {
					t.Fatal(r.Err)
				}
				e.Apply(context.Background(), Mutation{Key: []byte(fmt.Sprint("o", i)), Version: ver(i, "sfo-1"), Origin: "sfo"})
			}
			stop.Store(true)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			want(t, e, "k", fmt.Sprint(writes-1))
		})
	}
}

// TestRowCachePinned: entries not yet in goleveldb stay cached whatever
// the bound, and become evictable once unpinned.
func TestRowCachePinned(t *testing.T) {
	c := newRowCache(cacheShards * 1024)
	big := make([]byte, 4096) // larger than a shard's bound
	for i := range 1000 {
		c.set(fmt.Sprint("p", i), &Entry{Value: big, Version: ver(1, "sfo-1")}, true)
	}
	for i := range 1000 {
		if e, _ := c.get([]byte(fmt.Sprint("p", i))); e == nil || len(e.Value) != len(big) {
			t.Fatalf("pinned entry p%d evicted", i)
		}
	}
	for i := range 1000 {
		c.unpin(fmt.Sprint("p", i))
	}
	for i := range 1000 {
		c.set(fmt.Sprint("q", i), &Entry{Value: []byte("v"), Version: ver(1, "sfo-1")}, false)
	}
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		if sh.bytes > c.maxBytes {
			t.Errorf("shard %d holds %d bytes after unpinning, bound %d", i, sh.bytes, c.maxBytes)
		}
		n += len(sh.pinned)
	}
	if n != 0 {
		t.Errorf("%d keys still pinned", n)
	}
}

// TestWriteBehind: with a cache too small for the keys, every write is
// readable at once (from the cache while unflushed, from goleveldb after),
// SCAN sees every write acknowledged before it, and a reopen (which
// replays the WAL from the last flush) keeps everything.
func TestWriteBehind(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, CacheBytes: cacheShards * 2048, Durability: DurabilityNever}
	e := openTest(t, cfg)
	const n = 3000
	for i := range n {
		put(t, e, fmt.Sprint("k", i), fmt.Sprint("v", i), ver(uint64(i+1), "sfo-1"))
		if i%7 == 0 {
			del(t, e, fmt.Sprint("k", i), ver(uint64(i+2), "sfo-1"))
		}
	}
	check := func(e *Engine) {
		t.Helper()
		for i := range n {
			if i%7 == 0 {
				want(t, e, fmt.Sprint("k", i), "<deleted>")
				continue
			}
			want(t, e, fmt.Sprint("k", i), fmt.Sprint("v", i))
		}
		var all [][]byte
		for cursor := 0; ; {
			next, keys, err := e.Scan(cursor, 1000, nil)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, keys...)
			if cursor = next; cursor == 0 {
				break
			}
		}
		if live := n - (n+6)/7; len(all) != live || e.Stats().Keys != int64(live) {
			t.Fatalf("SCAN found %d keys, Stats %d, want %d", len(all), e.Stats().Keys, live)
		}
	}
	check(e)
	e.Close()
	check(openTest(t, cfg))
}
