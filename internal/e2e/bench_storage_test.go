package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	pt "planet/internal/planettest"
)

// System benchmarks of storage. They print their figures for a human;
// run them with -benchtime 1x (make bench), alone on the machine.

// benchSystem is one system under test, started and ready for clients.
type benchSystem struct {
	pids []int                   // its server processes, whose CPU time is counted
	dial func(client int) kvConn // the connection of client number client
	stop func()                  // stops its processes (the test's cleanup stops them too)
}

// benchRow is one system's figures.
type benchRow struct {
	name     string
	set, get phaseResult
}

const (
	planetLinearizable = "planet linearizable"
	planetQuorum       = "planet quorum"
	redisTrio          = "redis x3 WAIT 1"
	etcdTrio           = "etcd x3"
	redisSingle        = "redis x1"
)

// BenchmarkStorageVsRedis drives, one after the other and with the same
// load (loadConfig: 50 clients, 100,000 SETs then 100,000 GETs of 256-byte
// values over 100,000 distinct keys), a three-replica Planet region (W=2,
// R=2, fsync always) in both consistency modes and the systems it is
// measured against: a redis-server primary with two replicas and WAIT 1,
// a three-member etcd cluster, and one redis-server for information.
// PLANET_BENCH_OPS, PLANET_BENCH_CLIENTS and PLANET_BENCH_KEYS shorten it.
func BenchmarkStorageVsRedis(b *testing.B) {
	load := loadFromEnv(b)
	requireBinary(b, "redis-server", "redis-server")
	requireBinary(b, "etcd", "etcd-server")
	values := load.values()
	systems := []struct {
		name  string
		start func(testing.TB) *benchSystem
	}{
		{planetLinearizable, func(tb testing.TB) *benchSystem { return startPlanet(tb, "linearizable") }},
		{planetQuorum, func(tb testing.TB) *benchSystem { return startPlanet(tb, "quorum") }},
		{redisTrio, startRedisTrio},
		{etcdTrio, startEtcdTrio},
		{redisSingle, startRedisSingle},
	}
	b.ResetTimer()
	for range b.N {
		var rows []benchRow
		for _, s := range systems {
			t0 := time.Now()
			sys := s.start(b)
			t1 := time.Now()
			set, get := drive(b, load, values, sys, s.name)
			sys.stop() // the next system gets the machine to itself
			fmt.Fprintf(os.Stderr, "storage benchmark: %s: started in %.1fs, measured in %.1fs\n",
				s.name, t1.Sub(t0).Seconds(), time.Since(t1).Seconds())
			rows = append(rows, benchRow{name: s.name, set: set, get: get})
		}
		printStorageReport(load, rows)
		reportStorageMetrics(b, rows)
	}
}

// startPlanet starts a region of three storage replicas, W=2 R=2, fsync
// before every acknowledgement, in the given STORAGE_CONSISTENCY. Client
// number i talks to replica i mod 3, which coordinates its requests.
func startPlanet(tb testing.TB, consistency string) *benchSystem {
	region, rs := storageRegion(tb, 3, "STORAGE_DURABILITY=always", "QUORUM_W=2", "QUORUM_R=2",
		"STORAGE_CONSISTENCY="+consistency, "LOG_LEVEL=warn")
	sys := &benchSystem{
		dial: func(client int) kvConn { return newRedisConn(rs[client%len(rs)].Addr(), 0) },
		stop: func() {
			for _, r := range rs {
				r.Kill()
			}
			region.Kill()
		},
	}
	for _, r := range rs {
		sys.pids = append(sys.pids, listenerPID(tb, r.IP, r.Port))
	}
	return sys
}

// drive connects load.Clients clients to sys, then runs the SET phase and
// the GET phase, each timed from its first operation to its last, with the
// server CPU the phase cost.
func drive(tb testing.TB, load loadConfig, values []string, sys *benchSystem, name string) (set, get phaseResult) {
	tb.Helper()
	conns := make([]kvConn, load.Clients)
	for i := range conns {
		conns[i] = sys.dial(i)
		defer conns[i].Close()
		// Connect before the clock starts (a key that no phase writes).
		if _, _, err := conns[i].Get(context.Background(), "bench:warm-up"); err != nil {
			tb.Fatalf("%s: client %d: %v", name, i, err)
		}
	}
	results := make([]phaseResult, 2)
	for _, p := range []phase{phaseSet, phaseGet} {
		settle(tb, sys.pids)
		cpu := totalCPU(tb, sys.pids)
		r, err := load.run(conns, values, p)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		r.settled = settle(tb, sys.pids)
		r.cpu = totalCPU(tb, sys.pids) - cpu
		results[p] = r
	}
	return results[phaseSet], results[phaseGet]
}

// printStorageReport prints the load, what each system is, and a table of
// throughput, latency and CPU per operation, then the ratios to the targets.
func printStorageReport(load loadConfig, rows []benchRow) {
	fmt.Printf("BenchmarkStorageVsRedis: the same Go load generator for every system, one system at a time: %d clients (one connection each, one op in flight),\n", load.Clients)
	fmt.Printf("  %s SETs then %s GETs of %d-byte values; %s distinct keys written in scattered order (key space %s), GETs of random written keys\n",
		thousands(float64(load.Ops)), thousands(float64(load.Ops)), load.ValueSize, thousands(float64(load.written())), thousands(float64(load.Keys)))
	if load.written() < 100_000 {
		fmt.Printf("  NOTE: fewer than 100,000 distinct keys (PLANET_BENCH_OPS/PLANET_BENCH_KEYS): a smoke run, not the issue's load\n")
	}
	fmt.Printf("  planet: 3 storage replicas, W=2 R=2, STORAGE_DURABILITY=always, STORAGE_CONSISTENCY=linearizable|quorum; go-redis, client i -> replica i mod 3\n")
	fmt.Printf("  %s: redis-server %s primary + 2 replicas (--replicaof), appendonly yes, appendfsync always on all three;\n", redisTrio, redisVersion())
	fmt.Printf("     go-redis to the primary; SET and WAIT 1 0 pipelined (one round trip): acknowledged by 2 of 3; GETs from the primary\n")
	fmt.Printf("  %s: etcd %s, 3 members (static cluster, default fsync); v3 JSON gateway (POST /v3/kv/put, /v3/kv/range: linearizable)\n", etcdTrio, etcdVersion())
	fmt.Printf("     over HTTP/1.1 keep-alive (stdlib, no gRPC client), client i -> member i mod 3\n")
	fmt.Printf("  %s: one redis-server %s, appendonly yes, appendfsync always, no replicas (information)\n", redisSingle, redisVersion())
	fmt.Printf("  CPU µs/op: utime+stime of the system's server processes (/proc/<pid>/stat, %v ticks) from a phase's start until they are idle\n", clockTick())
	fmt.Printf("     again, divided by the phase's ops; the load generator (this process) is not counted. * = not idle 10s after the phase\n")
	fmt.Printf("\n%-20s %-4s %10s %10s %10s %12s\n", "system", "op", "ops/s", "p50", "p99", "CPU µs/op")
	for _, r := range rows {
		for _, p := range []struct {
			op string
			r  phaseResult
		}{{"SET", r.set}, {"GET", r.get}} {
			mark := ""
			if !p.r.settled {
				mark = "*"
			}
			fmt.Printf("%-20s %-4s %10s %10s %10s %11.0f%s\n", r.name, p.op, thousands(p.r.opsPerSec()),
				ms(p.r.lat.p50), ms(p.r.lat.p99), float64(p.r.cpuPerOp())/float64(time.Microsecond), mark)
		}
	}
	fmt.Printf("\n%-44s %7s %8s\n", "planet linearizable / peer, ops/s", "ratio", "target")
	for _, t := range storageTargets(rows) {
		verdict := "met"
		if t.ratio < t.target {
			verdict = "NOT met"
		}
		fmt.Printf("%-44s %7.2f %8s  %s\n", t.op+" vs "+t.peer, t.ratio, fmt.Sprintf(">= %.1f", t.target), verdict)
	}
	fmt.Printf("CPU per replicated SET, summed over the 3 storage replicas: %s %.0fµs, %s %.0fµs (%s %.0fµs, %s %.0fµs, over their 3 processes)\n",
		planetLinearizable, cpuUS(rows, planetLinearizable), planetQuorum, cpuUS(rows, planetQuorum),
		redisTrio, cpuUS(rows, redisTrio), etcdTrio, cpuUS(rows, etcdTrio))
}

// storageTarget is one of the targets: Planet (linearizable) at
// least target times peer's throughput for op.
type storageTarget struct {
	op, peer, metric string
	target, ratio    float64
}

func storageTargets(rows []benchRow) []storageTarget {
	ours := row(rows, planetLinearizable)
	var ts []storageTarget
	for _, peer := range []struct {
		name, short string
		target      float64
	}{{redisTrio, "redis3", 1.0}, {etcdTrio, "etcd3", 3.0}} {
		theirs := row(rows, peer.name)
		ts = append(ts,
			storageTarget{op: "SET", peer: peer.name, metric: "set-vs-" + peer.short + "-x", target: peer.target,
				ratio: ours.set.opsPerSec() / theirs.set.opsPerSec()},
			storageTarget{op: "GET", peer: peer.name, metric: "get-vs-" + peer.short + "-x", target: peer.target,
				ratio: ours.get.opsPerSec() / theirs.get.opsPerSec()})
	}
	return ts
}

// reportStorageMetrics reports the target ratios and Planet's CPU per SET
// to the testing package (benchstat-friendly).
func reportStorageMetrics(b *testing.B, rows []benchRow) {
	for _, t := range storageTargets(rows) {
		b.ReportMetric(t.ratio, t.metric)
	}
	b.ReportMetric(cpuUS(rows, planetLinearizable), "planet-set-cpu-us")
	b.ReportMetric(row(rows, planetLinearizable).set.opsPerSec(), "planet-set-ops/s")
	b.ReportMetric(row(rows, planetLinearizable).get.opsPerSec(), "planet-get-ops/s")
}

func row(rows []benchRow, name string) benchRow {
	for _, r := range rows {
		if r.name == name {
			return r
		}
	}
	panic("no benchmark row " + name)
}

// cpuUS is a system's CPU microseconds per SET.
func cpuUS(rows []benchRow, name string) float64 {
	return float64(row(rows, name).set.cpuPerOp()) / float64(time.Microsecond)
}

// BenchmarkStorageRecovery restarts a replica holding a million keys
// (killed with SIGKILL) and times it until it serves reads.
func BenchmarkStorageRecovery(b *testing.B) {
	keys := 1_000_000
	if s := os.Getenv("BENCH_RECOVERY_KEYS"); s != "" {
		keys, _ = strconv.Atoi(s)
	}
	_, rs := storageRegion(b, 1, "QUORUM_W=1", "QUORUM_R=1", "STORAGE_DURABILITY=never", "LOG_LEVEL=info")
	r := rs[0]
	fill(b, r.Addr(), keys)
	c := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer c.Close()
	if n := c.DBSize(context.Background()).Val(); n != int64(keys) {
		b.Fatalf("DBSIZE %d after filling %d", n, keys)
	}
	b.ResetTimer()
	for range b.N {
		r.Kill()
		start := time.Now()
		r.Start()
		probe := fmt.Sprint("key:", keys-1)
		pt.WaitFor(b, 60*time.Second, "the replica to serve", func() bool {
			v, err := c.Get(context.Background(), probe).Result()
			return err == nil && v != ""
		})
		d := time.Since(start)
		fmt.Printf("storage recovery: %s keys, SIGKILL then restart until it serves GET: %s  target < 5s\n", thousands(float64(keys)), ms(d))
		b.ReportMetric(d.Seconds(), "recovery-s")
	}
}

// fill writes keys key:0..n-1 with 100-byte values, pipelined, showing
// progress.
func fill(tb testing.TB, addr string, n int) {
	const conns, batch = 4, 100 // 400 writes in flight: a heavy load, not an overload
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: conns})
	defer c.Close()
	value := strings.Repeat("x", 100)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	start := time.Now()
	work := make(chan int)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for from := range work {
				pipe := c.Pipeline()
				for i := from; i < min(from+batch, n); i++ {
					pipe.Set(context.Background(), fmt.Sprint("key:", i), value, 0)
				}
				if _, err := pipe.Exec(context.Background()); err != nil {
					tb.Error(err)
				}
				mu.Lock()
				done += batch
				if done%100_000 == 0 {
					fmt.Fprintf(os.Stderr, "\rfilling: %s / %s keys (%.0fs)", thousands(float64(done)), thousands(float64(n)), time.Since(start).Seconds())
				}
				mu.Unlock()
			}
		}()
	}
	for from := 0; from < n; from += batch {
		work <- from
	}
	close(work)
	wg.Wait()
	fmt.Fprintln(os.Stderr)
}
