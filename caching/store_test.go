package caching

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"planet/internal/hlc"
)

// fakeClock is a wall clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestStore returns an empty Store on a fake clock.
func newTestStore(tb testing.TB, maxMemory int64, policy Policy) (*Store, *fakeClock) {
	tb.Helper()
	clk := newFakeClock()
	hc, err := hlc.NewClock("test-1", clk.now)
	if err != nil {
		tb.Fatal(err)
	}
	return NewStore(hc, clk.now, maxMemory, policy), clk
}

// run runs the command line (arguments separated by spaces) on st as the
// RESP server would, and returns its reply.
func run(tb testing.TB, st *Store, line string) string {
	tb.Helper()
	var args [][]byte
	for _, a := range strings.Fields(line) {
		args = append(args, []byte(a))
	}
	for _, c := range commandTable() {
		if strings.EqualFold(c.name, string(args[0])) {
			return string(st.run(c.run, c.denyOOM)(nil, nil, args))
		}
	}
	tb.Fatalf("no command %q", args[0])
	return ""
}

// expect runs each command line and checks its reply.
func expect(tb testing.TB, st *Store, pairs ...string) {
	tb.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if got := run(tb, st, pairs[i]); got != pairs[i+1] {
			tb.Errorf("%s: got %q, want %q", pairs[i], got, pairs[i+1])
		}
	}
}

func TestTTLFollowsTheClock(t *testing.T) {
	st, clk := newTestStore(t, 0, AllKeysLRU)
	expect(t, st,
		"SET k v PX 100", "+OK\r\n",
		"SET p v", "+OK\r\n",
		"PTTL k", ":100\r\n",
		"TTL k", ":0\r\n",
		"PTTL p", ":-1\r\n")
	clk.advance(99 * time.Millisecond)
	expect(t, st, "PTTL k", ":1\r\n", "GET k", "$1\r\nv\r\n", "DBSIZE", ":2\r\n")
	clk.advance(time.Millisecond)
	expect(t, st, "GET k", "$-1\r\n", "PTTL k", ":-2\r\n", "DBSIZE", ":1\r\n", "GET p", "$1\r\nv\r\n")
	if got := st.Stats().Expired; got != 1 {
		t.Errorf("Stats().Expired = %d, want 1", got)
	}

	expect(t, st, "SET k v EX 10", "+OK\r\n", "TTL k", ":10\r\n")
	clk.advance(5500 * time.Millisecond)
	expect(t, st, "TTL k", ":5\r\n", "PERSIST k", ":1\r\n", "TTL k", ":-1\r\n")
	clk.advance(time.Hour)
	expect(t, st, "GET k", "$1\r\nv\r\n",
		"EXPIREAT k 1", ":1\r\n", "EXISTS k", ":0\r\n")
}

func TestVersionsAdvanceOnEveryWrite(t *testing.T) {
	st, _ := newTestStore(t, 0, AllKeysLRU)
	var last hlc.Version
	for _, line := range []string{"SET k v", "APPEND k w", "EXPIRE k 100", "PERSIST k", "SETRANGE k 0 x"} {
		run(t, st, line)
		v, ok := st.Version("k")
		if !ok || !v.Newer(last) || v.Node != "test-1" {
			t.Fatalf("after %s: version %v (found %v), want newer than %v", line, v, ok, last)
		}
		last = v
	}
}

func TestMemoryAccounting(t *testing.T) {
	st, _ := newTestStore(t, 0, AllKeysLRU)
	cost := func(k, v string) int64 { return int64(len(k)+len(v)) + EntryOverhead }
	for _, tc := range []struct {
		line string
		want int64
	}{
		{"SET key value", cost("key", "value")},
		{"SET k2 vv", cost("key", "value") + cost("k2", "vv")},
		{"SET key v", cost("key", "v") + cost("k2", "vv")},
		{"DEL k2", cost("key", "v")},
		{"INCR n", cost("key", "v") + cost("n", "1")},
		{"RENAME n number", cost("key", "v") + cost("number", "1")},
		{"SETRANGE key 9 x", cost("key", "0123456789") + cost("number", "1")},
		{"FLUSHALL", 0},
	} {
		run(t, st, tc.line)
		if got := st.Used(); got != tc.want {
			t.Errorf("after %s: Used() = %d, want %d", tc.line, got, tc.want)
		}
	}
	// APPEND may leave spare capacity; it is accounted too.
	run(t, st, "SET a x")
	run(t, st, "APPEND a yyyyyyyyyy")
	if got, min := st.Used(), cost("a", "xyyyyyyyyyy"); got < min || got > min+32 {
		t.Errorf("after APPEND: Used() = %d, want %d..%d", got, min, min+32)
	}
	if EntryOverhead < 64 || EntryOverhead > 256 {
		t.Errorf("EntryOverhead = %d: not what an entry costs", EntryOverhead)
	}
}

func TestActiveExpiryRemovesExpiredKeys(t *testing.T) {
	st, clk := newTestStore(t, 0, AllKeysLRU)
	for i := range 1000 {
		run(t, st, fmt.Sprintf("SET tmp:%d v PX 10", i))
	}
	for i := range 100 {
		run(t, st, fmt.Sprintf("SET keep:%d v PX 60000", i))
		run(t, st, fmt.Sprintf("SET forever:%d v", i))
	}
	if n := st.ExpireCycle(); n != 0 {
		t.Fatalf("ExpireCycle before any TTL passed deleted %d keys", n)
	}
	clk.advance(10 * time.Millisecond)
	if n := st.ExpireCycle(); n < 500 {
		t.Errorf("one ExpireCycle deleted %d of 1000 expired keys: it should go on while more than 25%% of a sample expired", n)
	}
	for i := 0; i < 10000 && st.Len() > 200; i++ {
		st.ExpireCycle()
	}
	if st.Len() != 200 || st.Volatile() != 100 {
		t.Errorf("left %d keys (%d with a TTL); want 200 (100)", st.Len(), st.Volatile())
	}
	if got := st.Stats().Expired; got != 1000 {
		t.Errorf("Stats().Expired = %d, want 1000", got)
	}
}

func TestActiveExpiryStopsWhenFewExpired(t *testing.T) {
	st, clk := newTestStore(t, 0, AllKeysLRU)
	for i := range 1000 {
		ttl := 60000
		if i%20 == 0 {
			ttl = 1 // 5% expire
		}
		run(t, st, fmt.Sprintf("SET k:%d v PX %d", i, ttl))
	}
	clk.advance(time.Millisecond)
	if n := st.ExpireCycle(); n > 2*expireSamples {
		t.Errorf("ExpireCycle deleted %d keys: it should stop after a round or two when few have expired", n)
	}
}

func TestConcurrentCommands(t *testing.T) {
	st, clk := newTestStore(t, 0, AllKeysLRU)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				run(t, st, "INCR counter")
				run(t, st, fmt.Sprintf("SET k:%d:%d v PX 5", g, i))
				if i%50 == 0 {
					clk.advance(time.Millisecond)
					st.ExpireCycle()
				}
			}
		}()
	}
	wg.Wait()
	expect(t, st, "GET counter", "$4\r\n1600\r\n")
}

func BenchmarkSetGet(b *testing.B) {
	st, _ := newTestStore(b, 0, AllKeysLRU)
	set := st.run(cmdSet, true)
	get := st.run(cmdGet, false)
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key:%d", i)
	}
	value := make([]byte, 64)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := keys[i%len(keys)]
		set(nil, nil, [][]byte{[]byte("SET"), k, value})
		get(nil, nil, [][]byte{[]byte("GET"), k})
	}
}

// TestHashCollisionChains: entries whose keys share a 64-bit hash are
// chained in one bucket slot; removing any of them keeps the others.
func TestHashCollisionChains(t *testing.T) {
	st, _ := newTestStore(t, 0, AllKeysLRU)
	st.mu.Lock()
	defer st.mu.Unlock()
	a := st.insertLocked("a")
	m := st.buckets[a.hash%numBuckets]
	b := &entry{key: "b", hash: a.hash, volIdx: -1, next: m[a.hash]} // as if "b" hashed as "a"
	m[a.hash] = b
	c := &entry{key: "c", hash: a.hash, volIdx: -1, next: m[a.hash]}
	m[a.hash] = c
	for _, e := range []*entry{b, c} { // in the sampling slice too, as insertLocked does
		e.allIdx = len(st.all)
		st.all = append(st.all, e)
	}
	keys := func() string {
		var ks []string
		st.forEachIn(int(a.hash%numBuckets), func(e *entry) { ks = append(ks, e.key) })
		slices.Sort(ks)
		return strings.Join(ks, ",")
	}
	if got := keys(); got != "a,b,c" {
		t.Fatalf("chain holds %q", got)
	}
	st.removeLocked(b) // the middle
	if got := keys(); got != "a,c" {
		t.Errorf("after removing b: %q", got)
	}
	st.removeLocked(c) // the head
	if got := keys(); got != "a" || st.lookup("a") != a {
		t.Errorf("after removing c: %q", got)
	}
	st.removeLocked(a)
	if _, ok := m[a.hash]; ok || st.lookup("a") != nil {
		t.Errorf("the slot outlived its last entry")
	}
}
