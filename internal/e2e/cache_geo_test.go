package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	pt "planet/internal/planettest"
)

// geoCaches starts three regions (sfo, nyc, ams) sharing a platform
// secret, one cache process in each, and waits until every cache has the
// other two as peers.
func geoCaches(t *testing.T, env ...string) (map[string]*cacheProcess, map[string]*pt.Region) {
	t.Helper()
	file := secretFile(t)
	cluster := pt.NewDiscovery(t, "sfo", "nyc", "ams")
	for _, r := range cluster.Regions {
		r.AddEnv("PLANET_SECRET_FILE=" + file)
		r.Start()
	}
	caches := make(map[string]*cacheProcess)
	for name, r := range cluster.Regions {
		caches[name] = startCacheProcess(t, r, append([]string{"PLANET_SECRET_FILE=" + file}, env...)...)
	}
	for name, c := range caches {
		pt.WaitFor(t, 30*time.Second, name+"'s cache to see its two peers", func() bool {
			return strings.Contains(cacheCLI(t, c, "INFO", "planet"), "peers:2")
		})
	}
	return caches, cluster.Regions
}

func goRedis(t *testing.T, c *cacheProcess) *redis.Client {
	cl := redis.NewClient(&redis.Options{Addr: c.Addr(), MaxRetries: -1})
	t.Cleanup(func() { cl.Close() })
	return cl
}

// TestCacheGeoReplication: real cache processes in three regions with a
// platform secret. A strong SET is readable in every region at once; an
// eventual one arrives; with ams's cache killed, a strong SET fails naming
// ams while quorum and eventual succeed; ams started again (no other
// cache in its region: it starts empty) receives new writes.
func TestCacheGeoReplication(t *testing.T) {
	ctx := context.Background()
	caches, _ := geoCaches(t, "CACHE_STRONG_TIMEOUT=500ms")
	sfo := goRedis(t, caches["sfo"])
	conn := sfo.Conn()
	defer conn.Close()

	if got := cacheCLI(t, caches["nyc"], "CACHE.APPLY", "S", "k", "v", "0", "1.0.x"); !strings.HasPrefix(got, "NOPERM") {
		t.Errorf("CACHE.APPLY from an application: %q, want NOPERM", got)
	}

	for i := range 20 {
		key, val := fmt.Sprintf("strong-%d", i), fmt.Sprint(i)
		if err := conn.Do(ctx, "PLANET.MODE", "strong").Err(); err != nil {
			t.Fatal(err)
		}
		if err := conn.Set(ctx, key, val, 0).Err(); err != nil {
			t.Fatalf("strong SET: %v", err)
		}
		for _, r := range []string{"nyc", "ams"} {
			if got := cacheCLI(t, caches[r], "GET", key); got != val {
				t.Fatalf("right after a strong SET in sfo, %s has %q", r, got)
			}
		}
	}
	if acks := conn.Do(ctx, "PLANET.ACKS").Val(); fmt.Sprint(acks) != "[sfo ams nyc]" {
		t.Errorf("PLANET.ACKS = %v", acks)
	}

	if err := sfo.Set(ctx, "eventual", "e", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"nyc", "ams"} {
		pt.WaitFor(t, 5*time.Second, "the eventual SET in "+r, func() bool { return cacheCLI(t, caches[r], "GET", "eventual") == "e" })
		if ttl := cacheCLI(t, caches[r], "TTL", "eventual"); ttl < "3500" || len(ttl) != 4 {
			t.Errorf("%s: TTL of a key set with EX 3600 = %s", r, ttl)
		}
	}

	caches["ams"].Kill()
	err := conn.Do(ctx, "PLANET.MODE", "strong").Err()
	start := time.Now()
	if err == nil {
		err = conn.Set(ctx, "after-kill", "s", 0).Err()
	}
	const want = "NOTALL strong write: not acknowledged by ams (2 of 3 regions)"
	if err == nil || err.Error() != want {
		t.Fatalf("strong SET with ams's cache killed: %v, want %q", err, want)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the strong SET failed after %v (timeout 500ms)", took)
	}
	for _, mode := range []string{"quorum", "eventual"} {
		conn.Do(ctx, "PLANET.MODE", mode)
		if err := conn.Set(ctx, "after-kill-"+mode, mode, 0).Err(); err != nil {
			t.Errorf("%s SET with ams down: %v", mode, err)
		}
	}

	// Started again on the same address, as a restarted unit: the old
	// registration is its own, so no other cache of ams is listed.
	ams := caches["ams"]
	ams.Start()
	pt.WaitFor(t, 20*time.Second, "ams's warm start and peers", func() bool {
		info := cacheCLI(t, ams, "INFO", "planet")
		return strings.Contains(info, "warm_start:skipped: no other cache in region ams") && strings.Contains(info, "peers:2")
	})
	if out := ams.Output(); !strings.Contains(out, "warm start: no other cache in this region") {
		t.Errorf("ams's log does not say it starts empty:\n%s", out)
	}
	pt.WaitFor(t, 20*time.Second, "sfo to see the new ams", func() bool {
		conn.Do(ctx, "PLANET.MODE", "strong")
		return conn.Set(ctx, "after-restart", "r", 0).Err() == nil
	})
	if got := cacheCLI(t, ams, "GET", "after-restart"); got != "r" {
		t.Errorf("ams after its restart: GET after-restart = %q", got)
	}
	metrics := get(t, "http://"+caches["sfo"].AdminAddr()+"/metrics")
	for _, want := range []string{`caching_writes_total{mode="strong",result="not_acknowledged"} `, `caching_writes_total{mode="eventual",result="ok"} `,
		`caching_replication_queue{peer=`, `caching_peers 2`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("sfo's /metrics lacks %q", want)
		}
	}
	for _, c := range caches {
		c.Signal(syscall.SIGTERM)
	}
}
