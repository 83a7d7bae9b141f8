package storage

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
	c.set("k", &Entry{Value: []byte("new"), Version: ver(2, "sfo-1")})
	c.set(other, &Entry{Value: []byte("x"), Version: ver(2, "sfo-1")}) // evicts k
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
	c.set("k", nil)
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
		c.set(fmt.Sprint("key", i), &Entry{Value: value, Version: ver(1, "sfo-1")})
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
			e := openTest(t, EngineConfig{CacheBytes: cacheBytes, Durability: DurabilityNever})
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
