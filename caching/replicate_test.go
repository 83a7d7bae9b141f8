package caching

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	pt "planet/internal/planettest"
)

// testRegions starts one cache per region (sfo, nyc, ams) on one fake
// discovery, each configured by cfg (Region and Discovery set here), and
// waits until each has every other as a peer.
func testRegions(t *testing.T, cfg Config, regions ...string) (map[string]*Server, *fakeNet) {
	t.Helper()
	if len(regions) == 0 {
		regions = []string{"sfo", "nyc", "ams"}
	}
	n := &fakeNet{}
	out := make(map[string]*Server)
	for _, r := range regions {
		c := cfg
		c.Region, c.Discovery = r, &fakeDiscovery{region: r, net: n}
		if c.PeerRefresh == 0 {
			c.PeerRefresh = 20 * time.Millisecond
		}
		if c.StrongTimeout == 0 {
			c.StrongTimeout = time.Second
		}
		out[r] = startServer(t, c)
	}
	for r, s := range out {
		pt.WaitFor(t, 5*time.Second, r+"'s peers", func() bool { return len(s.repl.peers()) == len(regions)-1 })
	}
	return out, n
}

// client returns a go-redis client of s, closed when the test ends.
func rclient(t *testing.T, s *Server) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

// conn returns one dedicated connection of s, for PLANET.MODE.
func conn(t *testing.T, s *Server) *redis.Conn {
	c := rclient(t, s).Conn()
	t.Cleanup(func() { c.Close() })
	return c
}

// modeSet runs PLANET.MODE mode then SET key value on one connection.
func modeSet(ctx context.Context, c *redis.Conn, mode, key, value string) error {
	if err := c.Do(ctx, "planet.mode", mode).Err(); err != nil {
		return err
	}
	return c.Set(ctx, key, value, 0).Err()
}

func getVal(ctx context.Context, c *redis.Client, key string) string {
	v, err := c.Get(ctx, key).Result()
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return v
}

func TestStrongWriteIsReadableEverywhereAtOnce(t *testing.T) {
	ctx := context.Background()
	rs, _ := testRegions(t, Config{})
	c := conn(t, rs["sfo"])
	for i := range 50 {
		key, val := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)
		if err := modeSet(ctx, c, "strong", key, val); err != nil {
			t.Fatal(err)
		}
		for _, r := range []string{"nyc", "ams"} {
			if got := getVal(ctx, rclient(t, rs[r]), key); got != val {
				t.Fatalf("after a strong SET %s in sfo, %s has %q", key, r, got)
			}
		}
	}
	acks, err := c.Do(ctx, "planet.acks").StringSlice()
	if err != nil || !slices.Equal(acks, []string{"sfo", "ams", "nyc"}) {
		t.Errorf("PLANET.ACKS = %q, %v; want [sfo ams nyc]", acks, err)
	}
}

func TestQuorumWriteIsOnOnePeerAtOnce(t *testing.T) {
	ctx := context.Background()
	rs, _ := testRegions(t, Config{})
	c := conn(t, rs["sfo"])
	if err := c.Do(ctx, "planet.mode", "quorum", "connection").Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		key := fmt.Sprintf("q%d", i)
		if err := c.Set(ctx, key, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if getVal(ctx, rclient(t, rs["nyc"]), key) != "v" && getVal(ctx, rclient(t, rs["ams"]), key) != "v" {
			t.Fatalf("after a quorum SET %s, no peer has it", key)
		}
		acks, err := c.Do(ctx, "planet.acks").StringSlice()
		if err != nil || len(acks) < 2 || acks[0] != "sfo" {
			t.Fatalf("PLANET.ACKS after a quorum write = %q, %v; want sfo and at least one peer", acks, err)
		}
	}
}

func TestEventualWritesConverge(t *testing.T) {
	ctx := context.Background()
	rs, _ := testRegions(t, Config{})
	c := rclient(t, rs["sfo"])
	for i := range 200 {
		if err := c.Set(ctx, fmt.Sprintf("e%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.Del(ctx, "e0")
	c.Expire(ctx, "e1", time.Hour)
	c.Incr(ctx, "e2")
	c.Append(ctx, "e3", "x")
	c.Rename(ctx, "e4", "renamed")
	waitConverged(t, rs)
	if got := getVal(ctx, rclient(t, rs["ams"]), "e3"); got != "3x" {
		t.Errorf("APPEND in sfo: ams has %q", got)
	}
	if ttl := rclient(t, rs["nyc"]).TTL(ctx, "e1").Val(); ttl < 59*time.Minute {
		t.Errorf("EXPIRE in sfo: nyc's TTL is %v", ttl)
	}
}

// state is a cache's keyspace as a comparable string: each key with its
// value, whether it has a TTL, and its version.
func state(s *Server) string {
	ops, next := s.store.Dump(0, 1<<30)
	if next != 0 {
		panic("partial dump")
	}
	lines := make([]string, len(ops))
	for i, op := range ops {
		lines[i] = fmt.Sprintf("%s=%q ttl=%t v=%s", op.Key, op.Value, op.ExpireAt != 0, op.Version)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// waitConverged waits until every cache holds the same keys, values and
// versions.
func waitConverged(t *testing.T, rs map[string]*Server) {
	t.Helper()
	var states map[string]string
	pt.WaitFor(t, 10*time.Second, "every cache to hold the same state", func() bool {
		states = make(map[string]string)
		for r, s := range rs {
			states[r] = state(s)
		}
		for _, st := range states {
			if st != states["sfo"] {
				return false
			}
		}
		return true
	})
}

func TestConcurrentWritesConverge(t *testing.T) {
	ctx := context.Background()
	rs, _ := testRegions(t, Config{}, "sfo", "nyc")
	var wg sync.WaitGroup
	for _, r := range []string{"sfo", "nyc"} {
		c := rclient(t, rs[r])
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(len(r)), 7))
			for i := range 2000 {
				key := fmt.Sprintf("c%d", rng.IntN(50))
				var err error
				switch i % 6 {
				case 0, 1:
					err = c.Set(ctx, key, r+fmt.Sprint(i), 0).Err()
				case 2:
					err = c.Del(ctx, key).Err()
				case 3:
					err = c.Expire(ctx, key, time.Hour).Err()
				case 4:
					err = c.Persist(ctx, key).Err()
				case 5:
					err = c.Incr(ctx, "counter").Err()
				}
				if err != nil && !errors.Is(err, redis.Nil) && !strings.Contains(err.Error(), "not an integer") {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	waitConverged(t, rs)
}

func TestTTLPropagatesAndExpiresEverywhere(t *testing.T) {
	ctx := context.Background()
	rs, _ := testRegions(t, Config{})
	c := conn(t, rs["sfo"])
	if err := c.Do(ctx, "planet.mode", "strong").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "short", "v", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"nyc", "ams"} {
		if ttl := rclient(t, rs[r]).PTTL(ctx, "short").Val(); ttl <= 0 || ttl > 300*time.Millisecond {
			t.Errorf("%s: PTTL of a key set with PX 300 in sfo = %v", r, ttl)
		}
	}
	pt.WaitFor(t, 5*time.Second, "the key to expire everywhere", func() bool {
		for _, s := range rs {
			if rclient(t, s).Exists(ctx, "short").Val() != 0 {
				return false
			}
		}
		return true
	})
}

// unreachablePeer registers in region an address where nothing answers:
// a cache that is down but still listed.
func unreachablePeer(t *testing.T, n *fakeNet, region string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	(&fakeDiscovery{region: region, net: n}).set(addr, ServiceName)
}

func TestStrongWriteNamesTheRegionThatDidNotAnswer(t *testing.T) {
	ctx := context.Background()
	rs, n := testRegions(t, Config{StrongTimeout: 300 * time.Millisecond}, "sfo", "nyc")
	unreachablePeer(t, n, "ams")
	pt.WaitFor(t, 5*time.Second, "sfo to list ams", func() bool { return len(rs["sfo"].repl.peers()) == 2 })
	c := conn(t, rs["sfo"])
	start := time.Now()
	err := modeSet(ctx, c, "strong", "k", "strong")
	took := time.Since(start)
	const want = "NOTALL strong write: not acknowledged by ams (2 of 3 regions)"
	if err == nil || err.Error() != want {
		t.Fatalf("strong SET with ams down: %v; want %q", err, want)
	}
	if took > 2*time.Second {
		t.Errorf("the strong SET failed after %v; the timeout is 300ms", took)
	}
	if acks := c.Do(ctx, "planet.acks").Val(); fmt.Sprint(acks) != "[sfo nyc]" {
		t.Errorf("PLANET.ACKS = %v; want [sfo nyc]", acks)
	}
	if got := getVal(ctx, rclient(t, rs["nyc"]), "k"); got != "strong" {
		t.Errorf("nyc has %q; a strong write that failed for ams still reaches the regions that answer", got)
	}
	for _, mode := range []string{"quorum", "eventual"} {
		if err := modeSet(ctx, c, mode, "k-"+mode, "v"); err != nil {
			t.Errorf("%s SET with ams down: %v", mode, err)
		}
	}
	info := rclient(t, rs["sfo"]).Info(ctx, "planet").Val()
	for _, want := range []string{"writes_strong:ok=0,not_acknowledged=1", "region=ams,state=retrying"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO planet lacks %q:\n%s", want, info)
		}
	}
	metrics := get(t, rs["sfo"].AdminAddr(), "/metrics")
	for _, want := range []string{`caching_writes_total{mode="strong",result="not_acknowledged"} 1`,
		`caching_writes_total{mode="quorum",result="ok"} 1`, `caching_peers 2`,
		`caching_replication_sent_total{peer="` + rs["nyc"].Addr() + `",region="nyc"} `,
		`caching_replication_latency_seconds_count{peer="` + rs["nyc"].Addr() + `",region="nyc"}`,
		`caching_replication_queue{peer=`, `caching_replication_dropped_total{peer=`, `caching_invalidations_sent_total{peer=`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// pausingProxy forwards connections to target until paused: then it
// closes them and refuses new ones, as a peer that is unreachable.
type pausingProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	paused bool
	conns  []net.Conn
}

func newPausingProxy(t *testing.T, target string) *pausingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pausingProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.setPaused(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.paused {
				c.Close()
				p.mu.Unlock()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				p.mu.Unlock()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *pausingProxy) setPaused(paused bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = paused
	if paused {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

func TestQueueOverflowInvalidatesRatherThanLeavesStale(t *testing.T) {
	ctx := context.Background()
	n := &fakeNet{}
	sfo := startServer(t, Config{Region: "sfo", Discovery: &fakeDiscovery{region: "sfo", net: n},
		PeerRefresh: 20 * time.Millisecond, ReplicationQueue: 8, PeerTimeout: 200 * time.Millisecond})
	// nyc is known to sfo only through a proxy that can cut it off.
	nyc := startServer(t, Config{Region: "nyc", Discovery: &fakeDiscovery{region: "nyc-hidden", net: &fakeNet{}}, NoWarmStart: true})
	proxy := newPausingProxy(t, nyc.Addr())
	(&fakeDiscovery{region: "nyc", net: n}).set(proxy.ln.Addr().String(), ServiceName)
	pt.WaitFor(t, 5*time.Second, "sfo's peer", func() bool { return len(sfo.repl.peers()) == 1 })

	c, cn := conn(t, sfo), rclient(t, nyc)
	c.Do(ctx, "planet.mode", "strong", "connection")
	for i := range 100 {
		if err := c.Set(ctx, fmt.Sprintf("k%d", i), "old", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.Do(ctx, "planet.mode", "eventual", "connection")
	pt.WaitFor(t, 5*time.Second, "nyc to hold the old values", func() bool {
		return cn.DBSize(ctx).Val() == 100 && sfo.repl.statuses()[0].Queue == 0
	})

	proxy.setPaused(true)
	for i := range 100 {
		c.Set(ctx, fmt.Sprintf("k%d", i), "new", 0)
	}
	if st := sfo.repl.statuses()[0]; st.Dropped == 0 || st.Queue > 8 {
		t.Fatalf("queue of 8 after 100 writes to an unreachable peer: %+v", st)
	}
	proxy.setPaused(false)
	pt.WaitFor(t, 10*time.Second, "sfo's queue to nyc to drain", func() bool {
		st := sfo.repl.statuses()[0]
		return st.Queue == 0 && st.Invalid == 0
	})
	stale, fresh := 0, 0
	for i := range 100 {
		switch getVal(ctx, cn, fmt.Sprintf("k%d", i)) {
		case "old":
			stale++
		case "new":
			fresh++
		}
	}
	if stale > 0 || fresh == 0 {
		t.Errorf("nyc holds %d stale values after its queue overflowed (%d new)", stale, fresh)
	}
	if a := nyc.store.ApplyStats(); a.Invalidations == 0 {
		t.Errorf("nyc received no invalidation: %+v", a)
	}
	t.Logf("after the overflow nyc has %d new values and %d keys invalidated", fresh, 100-fresh)
}

func TestWarmStartCopiesALocalPeer(t *testing.T) {
	ctx := context.Background()
	n := &fakeNet{}
	cfg := Config{Region: "sfo", Discovery: &fakeDiscovery{region: "sfo", net: n}, PeerRefresh: 20 * time.Millisecond}
	a := startServer(t, cfg)
	ca := rclient(t, a)
	for i := range 3000 {
		ca.Set(ctx, fmt.Sprintf("w%d", i), i, 0)
	}
	ca.Set(ctx, "ttl", "v", time.Hour)
	cfg.Discovery = &fakeDiscovery{region: "sfo", net: n}
	b := startServer(t, cfg) // returns once the warm start is over
	if got, want := state(b), state(a); got != want {
		t.Errorf("the warm-started cache differs from its source")
	}
	if ttl := rclient(t, b).TTL(ctx, "ttl").Val(); ttl < 59*time.Minute {
		t.Errorf("TTL after the warm start: %v", ttl)
	}
	if w := b.repl.warmState(); !strings.HasPrefix(w, "done: 3001 entries") {
		t.Errorf("warm state %q", w)
	}
}

func TestWriteModeCommands(t *testing.T) {
	s := startServer(t, Config{Region: "sfo"})
	ctx := context.Background()
	c := conn(t, s)
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{"planet.mode", "strong"}, "OK"},
		{[]any{"planet.mode", "bogus"}, `ERR unknown mode "bogus" (want eventual, quorum or strong)`},
		{[]any{"planet.mode", "quorum", "forever"}, "ERR syntax error"},
		{[]any{"planet.mode", "default"}, "ERR DEFAULT applies to CONNECTION only"},
		{[]any{"planet.mode", "default", "connection"}, "OK"},
		{[]any{"planet.acks"}, "[]"},
		{[]any{"set", "a", "1"}, "OK"},
		{[]any{"planet.acks"}, "[sfo]"},
		{[]any{"config", "set", "cache-mode", "nope"}, "ERR CONFIG SET failed (possibly related to argument 'cache-mode') - argument must be one of the following: eventual, quorum, strong"},
		{[]any{"config", "set", "cache-mode", "strong"}, "OK"},
		{[]any{"config", "get", "cache-mode"}, "[cache-mode strong]"},
		{[]any{"debug", "sleep", "0"}, "OK"},
		{[]any{"cache.apply", "S\x01k\x01v\x00\x01\x01x"}, "OK"},
		{[]any{"cache.apply", "S\x01k"}, "ERR cache.apply: record 1: value: truncated"},
	} {
		cmd := c.Do(ctx, tc.args...)
		got := fmt.Sprint(cmd.Val())
		if err := cmd.Err(); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.args, got, tc.want)
		}
	}
}
