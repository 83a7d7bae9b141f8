package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syndtr/goleveldb/leveldb"

	"planet/internal/hlc"
	"planet/internal/planettest"
	"planet/storage/wal"
)

func openTest(tb testing.TB, cfg Config) *Engine {
	tb.Helper()
	if cfg.Dir == "" {
		cfg.Dir = tb.TempDir()
	}
	e, err := Open(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	return e
}

// base is a recent wall time, so that test tombstones are within the grace
// period.
var base = uint64(time.Now().UnixMilli())

func ver(t uint64, node string) hlc.Version { return hlc.Version{Time: (base + t) << 16, Node: node} }

func put(tb testing.TB, e *Engine, key, value string, v hlc.Version) Result {
	tb.Helper()
	r := e.Apply(context.Background(), Mutation{Key: []byte(key), Value: []byte(value), Version: v, Origin: "sfo"})
	if r.Err != nil {
		tb.Fatal(r.Err)
	}
	return r
}

func del(tb testing.TB, e *Engine, key string, v hlc.Version) Result {
	tb.Helper()
	r := e.Apply(context.Background(), Mutation{Key: []byte(key), Version: v, Origin: "sfo", Delete: true})
	if r.Err != nil {
		tb.Fatal(r.Err)
	}
	return r
}

// want checks key's value ("" and deleted=true for a tombstone, missing for
// ErrNotFound).
func want(tb testing.TB, e *Engine, key, value string) {
	tb.Helper()
	got, err := e.Get([]byte(key))
	switch {
	case value == "<missing>":
		if err != ErrNotFound {
			tb.Fatalf("%q: got %+v, %v; want not found", key, got, err)
		}
	case value == "<deleted>":
		if err != nil || !got.Deleted {
			tb.Fatalf("%q: got %+v, %v; want a tombstone", key, got, err)
		}
	default:
		if err != nil || got.Deleted || string(got.Value) != value {
			tb.Fatalf("%q: got %+v, %v; want %q", key, got, err, value)
		}
	}
}

func TestNewerVersionWins(t *testing.T) {
	e := openTest(t, Config{})
	if r := put(t, e, "k", "v2", ver(2, "sfo-1")); !r.Applied || r.WasLive {
		t.Fatalf("first put: %+v", r)
	}
	if r := put(t, e, "k", "v1", ver(1, "sfo-1")); r.Applied {
		t.Fatal("an older put was applied")
	}
	if r := put(t, e, "k", "same", ver(2, "sfo-1")); r.Applied {
		t.Fatal("the same version was applied twice")
	}
	// Same time: the node breaks the tie.
	if r := put(t, e, "k", "v2b", ver(2, "sfo-2")); !r.Applied || !r.WasLive {
		t.Fatalf("tie-break put: %+v", r)
	}
	want(t, e, "k", "v2b")
	if r := del(t, e, "k", ver(3, "nyc-1")); !r.Applied || !r.WasLive {
		t.Fatalf("delete: %+v", r)
	}
	// A late, older replicated PUT must not resurrect the key.
	if r := put(t, e, "k", "late", ver(2, "zzz-9")); r.Applied {
		t.Fatal("an older put resurrected a deleted key")
	}
	want(t, e, "k", "<deleted>")
	if r := put(t, e, "k", "back", ver(4, "sfo-1")); !r.Applied || r.WasLive {
		t.Fatalf("put after delete: %+v", r)
	}
	want(t, e, "k", "back")
	want(t, e, "other", "<missing>")
	if got := e.Stats().Keys; got != 1 {
		t.Fatalf("keys = %d, want 1", got)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, Config{Dir: dir})
	for i := range 100 {
		put(t, e, fmt.Sprint("k", i), fmt.Sprint("v", i), ver(uint64(i+1), "sfo-1"))
	}
	del(t, e, "k7", ver(1000, "sfo-1"))
	digest := e.Digest()
	e.Close()
	e = openTest(t, Config{Dir: dir})
	want(t, e, "k8", "v8")
	want(t, e, "k7", "<deleted>")
	if got := e.Stats().Keys; got != 99 {
		t.Fatalf("keys = %d, want 99", got)
	}
	if e.Digest() != digest {
		t.Fatal("digest changed across a restart")
	}
	if e.MaxVersionTime() != ver(1000, "x").Time {
		t.Fatalf("max version time %d", e.MaxVersionTime())
	}
}

// logPath is the current WAL generation of an engine's directory.
func logPath(tb testing.TB, dir string) string {
	segs, err := wal.List(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var last string
	for _, s := range segs {
		if s.Kind == wal.KindLog {
			last = s.Path
		}
	}
	return last
}

func TestRecoveryCutsTornTail(t *testing.T) {
	for _, tail := range []struct {
		name string
		data string
	}{
		{"torn record", "VPUT torn=half"},
		{"bad checksum", "VPUT k1=evil@1.0.sfo-1 sfo 00000000\n"},
		{"garbage", "\x00\x01\x02garbage\n"},
		{"padding", strings.Repeat("\x00", 5000)},
		{"torn record over padding", "VPUT torn=half" + strings.Repeat("\x00", 5000)},
	} {
		t.Run(tail.name, func(t *testing.T) {
			dir := t.TempDir()
			e := openTest(t, Config{Dir: dir})
			for i := range 10 {
				put(t, e, fmt.Sprint("k", i), "good", ver(uint64(i+1), "sfo-1"))
			}
			e.Close()
			path := logPath(t, dir)
			good, _ := os.Stat(path)
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(tail.data)
			f.Close()
			// The state database is gone too, so the WAL is replayed in full.
			if err := os.RemoveAll(filepath.Join(dir, "state")); err != nil {
				t.Fatal(err)
			}
			e = openTest(t, Config{Dir: dir})
			for i := range 10 {
				want(t, e, fmt.Sprint("k", i), "good")
			}
			want(t, e, "torn", "<missing>")
			if st, _ := os.Stat(path); st.Size() != good.Size() {
				t.Fatalf("WAL is %d bytes after recovery, want it cut to %d", st.Size(), good.Size())
			}
			put(t, e, "after", "ok", ver(100, "sfo-1"))
			e.Close()
			e = openTest(t, Config{Dir: dir})
			want(t, e, "after", "ok")
		})
	}
}

// TestRecoveryAppliedPointInPadding: after a machine crash under
// durability "never", the state database may record an applied point past
// the records that reached the disk, in the WAL's padding. Recovery must
// replay the whole log and append after its records, not after the
// applied point (which would leave a gap of zeros that hides every later
// record).
func TestRecoveryAppliedPointInPadding(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, Config{Dir: dir, Durability: DurabilityNever})
	for i := range 10 {
		put(t, e, fmt.Sprint("k", i), "before", ver(uint64(i+1), "sfo-1"))
	}
	e.Close()
	path := logPath(t, dir)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	end := info.Size()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 8192)) // padding, as a crash leaves it
	f.Close()
	db, err := leveldb.OpenFile(filepath.Join(dir, "state"), nil)
	if err != nil {
		t.Fatal(err)
	}
	gen := uint64(1)
	if err := db.Put(metaApplied, encodePosition(wal.Position{Generation: gen, Offset: end + 100}), nil); err != nil {
		t.Fatal(err)
	}
	db.Close()

	e = openTest(t, Config{Dir: dir, Durability: DurabilityNever})
	for i := range 10 {
		want(t, e, fmt.Sprint("k", i), "before")
	}
	put(t, e, "after", "ok", ver(100, "sfo-1"))
	e.Close()
	if err := os.RemoveAll(filepath.Join(dir, "state")); err != nil {
		t.Fatal(err)
	}
	e = openTest(t, Config{Dir: dir}) // the WAL alone must hold everything
	for i := range 10 {
		want(t, e, fmt.Sprint("k", i), "before")
	}
	want(t, e, "after", "ok")
}

func TestCompactionAndRecovery(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, CompactBytes: 4 << 10}
	e := openTest(t, cfg)
	model := map[string]string{}
	for i := range 600 {
		k := fmt.Sprint("key", i%150)
		if i%7 == 3 {
			del(t, e, k, ver(uint64(i+1), "sfo-1"))
			model[k] = "<deleted>"
			continue
		}
		v := fmt.Sprint("value", i, bytes.Repeat([]byte{'x'}, i%50))
		put(t, e, k, v, ver(uint64(i+1), "sfo-1"))
		model[k] = v
	}
	planettest.WaitFor(t, 10*time.Second, "compaction to finish", func() bool { return !e.Stats().Compacting })
	gen := e.Stats().Generation
	if gen < 3 {
		t.Fatalf("generation %d after 600 writes with 4 KiB compaction", gen)
	}
	segs, _ := wal.List(dir)
	var names []string
	for _, s := range segs {
		names = append(names, filepath.Base(s.Path))
		if s.Gen+1 < gen {
			t.Errorf("generation %d kept: %s", s.Gen, s.Path)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, wal.SnapshotName(gen))); err != nil {
		t.Fatalf("no snapshot of generation %d: %v (files %v)", gen, err, names)
	}
	check := func(e *Engine) {
		t.Helper()
		for k, v := range model {
			want(t, e, k, v)
		}
	}
	check(e)
	digest := e.Digest()
	e.Close()

	e = openTest(t, cfg)
	check(e)
	e.Close()

	// Without the state database: rebuilt from the snapshot and the logs.
	os.RemoveAll(filepath.Join(dir, "state"))
	e = openTest(t, cfg)
	check(e)
	if e.Digest() != digest {
		t.Fatal("rebuilt state has another digest")
	}
}

func TestTombstonePurgedAfterGrace(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	clock := func() time.Time { return time.UnixMilli(now.Load()) }
	e := openTest(t, Config{CompactBytes: 1 << 10, TombstoneGrace: time.Hour, Now: clock})
	ms := uint64(now.Load())
	at := func(ms uint64) hlc.Version { return hlc.Version{Time: ms << 16, Node: "sfo-1"} }
	put(t, e, "keep", "v", at(ms))
	del(t, e, "gone", at(ms))
	del(t, e, "recent", at(ms+uint64(2*time.Hour/time.Millisecond)))
	now.Add(int64(90 * time.Minute / time.Millisecond))
	// Grow the WAL past CompactBytes to start a compaction.
	for i := range 20 {
		put(t, e, fmt.Sprint("fill", i), string(bytes.Repeat([]byte{'f'}, 100)), at(ms+1+uint64(i)))
	}
	planettest.WaitFor(t, 10*time.Second, "the expired tombstone to be purged", func() bool { return e.Stats().Purged == 1 })
	want(t, e, "gone", "<missing>")
	want(t, e, "recent", "<deleted>")
	want(t, e, "keep", "v")
}

func TestGroupCommit(t *testing.T) {
	var fsyncs atomic.Int64
	e := openTest(t, Config{OnFsync: func(time.Duration) { fsyncs.Add(1) }})
	const writers, each = 50, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				node := fmt.Sprintf("sfo-%d", w)
				put(t, e, fmt.Sprint(w, "/", i), "v", ver(uint64(i+1), node))
			}
		}()
	}
	wg.Wait()
	if n := fsyncs.Load(); n >= writers*each {
		t.Fatalf("%d fsyncs for %d writes: no group commit", n, writers*each)
	} else {
		t.Logf("%d writes, %d fsyncs", writers*each, n)
	}
	if e.Stats().Keys != writers*each {
		t.Fatalf("keys %d", e.Stats().Keys)
	}
}

func TestDurabilitySettings(t *testing.T) {
	for _, d := range []Durability{DurabilityAlways, DurabilityInterval, DurabilityNever} {
		t.Run(d.String(), func(t *testing.T) {
			dir := t.TempDir()
			var fsyncs atomic.Int64
			e := openTest(t, Config{Dir: dir, Durability: d, SyncInterval: 5 * time.Millisecond,
				OnFsync: func(time.Duration) { fsyncs.Add(1) }})
			put(t, e, "k", "v", ver(1, "sfo-1"))
			switch d {
			case DurabilityAlways:
				if fsyncs.Load() != 1 {
					t.Fatalf("fsyncs %d, want 1 before the reply", fsyncs.Load())
				}
			case DurabilityInterval:
				planettest.WaitFor(t, 5*time.Second, "the interval fsync", func() bool { return fsyncs.Load() >= 1 })
			case DurabilityNever:
				if fsyncs.Load() != 0 {
					t.Fatalf("fsyncs %d, want 0", fsyncs.Load())
				}
			}
			e.Close()
			e = openTest(t, Config{Dir: dir, Durability: d})
			want(t, e, "k", "v")
		})
	}
}

func TestDigestIsOrderIndependent(t *testing.T) {
	a := openTest(t, Config{})
	b := openTest(t, Config{})
	muts := []Mutation{
		{Key: []byte("x"), Value: []byte("1"), Version: ver(1, "sfo-1"), Origin: "sfo"},
		{Key: []byte("x"), Value: []byte("2"), Version: ver(2, "sfo-1"), Origin: "sfo"},
		{Key: []byte("y"), Value: []byte("1"), Version: ver(3, "sfo-1"), Origin: "sfo"},
		{Key: []byte("y"), Version: ver(4, "sfo-1"), Delete: true, Origin: "sfo"},
	}
	for _, m := range muts {
		a.Apply(context.Background(), m)
	}
	for i := len(muts) - 1; i >= 0; i-- {
		b.Apply(context.Background(), muts[i])
	}
	if a.Digest() != b.Digest() {
		t.Fatal("same state, different digests")
	}
	a.Apply(context.Background(), Mutation{Key: []byte("z"), Value: []byte("1"), Version: ver(5, "sfo-1"), Origin: "sfo"})
	da, db := a.Digest(), b.Digest()
	if diff := DiffDigests(&da, &db); len(diff) != 1 || diff[0] != digestBucket([]byte("z")) {
		t.Fatalf("diff %v; want the bucket of z", diff)
	}
}

func TestScanReturnsEveryKey(t *testing.T) {
	e := openTest(t, Config{})
	for i := range 500 {
		put(t, e, fmt.Sprint("user:", i), "v", ver(uint64(i+1), "sfo-1"))
	}
	put(t, e, "other", "v", ver(1000, "sfo-1"))
	del(t, e, "user:3", ver(1001, "sfo-1"))
	seen := map[string]bool{}
	cursor, calls := 0, 0
	for {
		next, keys, err := e.Scan(cursor, 10, func(k []byte) bool { return bytes.HasPrefix(k, []byte("user:")) })
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			seen[string(k)] = true
		}
		calls++
		if next == 0 {
			break
		}
		cursor = next
	}
	if len(seen) != 499 || seen["user:3"] || seen["other"] {
		t.Fatalf("scan saw %d keys (user:3 %v, other %v)", len(seen), seen["user:3"], seen["other"])
	}
	if calls < 10 {
		t.Fatalf("%d calls for 500 keys at COUNT 10", calls)
	}
}

func TestApplyRefusesInvalidMutations(t *testing.T) {
	e := openTest(t, Config{})
	for _, m := range []Mutation{
		{Key: []byte("k"), Version: ver(1, "sfo-1")},
		{Key: []byte("k"), Version: ver(1, "Bad Node"), Origin: "sfo"},
		{Key: []byte("k"), Version: hlc.Version{}, Origin: "sfo"},
	} {
		if r := e.Apply(context.Background(), m); r.Err == nil {
			t.Errorf("%+v applied", m)
		}
	}
	want(t, e, "k", "<missing>")
}

// TestWALFailureRefusesWrites: once a WAL write fails the engine refuses
// every write (what is on disk is unknown) and reports it; nothing fails
// silently. The failure is injected by closing the WAL file underneath.
func TestWALFailureRefusesWrites(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, Config{Dir: dir})
	put(t, e, "before", "v", ver(1, "sfo-1"))
	e.wal.Close()
	m := Mutation{Key: []byte("k"), Value: []byte("v"), Version: ver(2, "sfo-1"), Origin: "sfo"}
	for range 2 {
		if r := e.Apply(context.Background(), m); r.Err == nil {
			t.Fatal("a write was acknowledged after the WAL failed")
		}
	}
	if e.Err() == nil {
		t.Fatal("Err() is nil after a WAL failure")
	}
	want(t, e, "k", "<missing>")
	e.Close()
	e = openTest(t, Config{Dir: dir})
	want(t, e, "before", "v")
	if e.Err() != nil {
		t.Fatalf("a restart did not recover: %v", e.Err())
	}
}

// TestRebuildFromLogsAcrossAnEmptyGeneration: without the state database
// and the snapshot, recovery replays the previous generation's log with
// the follower and moves on to the new, still empty one.
func TestRebuildFromLogsAcrossAnEmptyGeneration(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, CompactBytes: 1 << 10}
	e := openTest(t, cfg)
	model := map[string]string{}
	for i := 0; e.Stats().Generation < 2; i++ {
		k, v := fmt.Sprint("key", i), fmt.Sprint("value", i)
		put(t, e, k, v, ver(uint64(i+1), "sfo-1"))
		model[k] = v
	}
	planettest.WaitFor(t, 10*time.Second, "compaction to finish", func() bool { return !e.Stats().Compacting })
	e.Close()
	os.RemoveAll(filepath.Join(dir, "state"))
	os.Remove(filepath.Join(dir, wal.SnapshotName(2)))
	e = openTest(t, cfg)
	for k, v := range model {
		want(t, e, k, v)
	}
	if g := e.Stats().Generation; g != 2 {
		t.Fatalf("generation %d after recovery, want 2", g)
	}
	put(t, e, "after", "x", ver(1e6, "sfo-1"))
	e.Close()
	e = openTest(t, cfg)
	want(t, e, "after", "x")
}
