package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	pt "planet/internal/planettest"
)

// System benchmarks of the WAL tailer: three regions of real processes
// (planettest.Geo: discovery, three storage replicas W=2 R=2 with fsync,
// and a tailer each) on loopback, writes into sfo, measured where they
// arrive in nyc and ams. They print their figures for a human; run them
// with -benchtime 1x (make bench), alone on the machine.

const (
	tailerLagTarget       = 50 * time.Millisecond // p99 of the lag, loopback
	tailerBytesTarget     = 1.2                   // cross-region bytes per WAL byte of a record, per remote region
	naiveBytesPerRecord   = 9                     // every local WAL's copy to every remote replica
	defaultTailerDuration = 10 * time.Second      // per rate; BENCH_DURATION overrides it
	tailerWriters         = 12                    // load generator connections, 4 per sfo replica
	tailerPipeline        = 64                    // most SETs in one pipeline of the load generator
	tailerTick            = time.Millisecond      // the load generator's pacing period
	lagSamplesPerSec      = 200                   // lag samples per second of load, whatever the rate
	lagPollInterval       = 2 * time.Millisecond  // a watcher's VGET round, when keys are pending
	lagPollMax            = 50 * time.Millisecond // ... when the region is far behind (see pollInterval)
	lagPollKeys           = 128                   // the oldest pending keys asked for in a round
	lagDeadline           = 10 * time.Second      // a sample not readable by then is missing
	catchUpProbes         = 1000                  // keys spread over the backlog, checked in each region
	catchUpLastProbes     = 100                   // the backlog's last keys, checked too
)

var (
	tailerRates   = []int{500, 2000, 10000} // writes/s into sfo: the two, and one the 2-core machine carries without saturating
	remoteRegions = []string{"nyc", "ams"}
)

// BenchmarkTailerLag writes into sfo at 2,000 and then 10,000 writes/s
// (an open-loop, paced load of distinct keys with 256-byte values) and
// measures, for a sample of the writes, the time from the write's OK in
// sfo until it is readable in nyc and in ams. Then it reads, from the sfo
// tailer's counters, the bytes each remote region received per byte of
// the records in the WAL. BENCH_DURATION shortens each rate's run.
func BenchmarkTailerLag(b *testing.B) {
	d := defaultTailerDuration
	if os.Getenv("BENCH_DURATION") != "" {
		d = loadDuration(b)
	}
	g := startTailerGeo(b)
	values := loadConfig{ValueSize: benchValueSize}.values()
	cpu := newGeoCPU(b, g)
	b.ResetTimer()
	for iter := range b.N {
		before := readTailerBytes(g.Tailers["sfo"])
		var runs []lagRun
		for _, rate := range tailerRates {
			prefix := fmt.Sprintf("tailer-lag:%d:%d:", iter, rate)
			runs = append(runs, runLag(b, g, cpu, values, rate, d, prefix))
		}
		delta := readTailerBytes(g.Tailers["sfo"]).minus(before)
		written := 0
		for _, r := range runs {
			written += r.acked
		}
		avg := walRecordSize(b, g, fmt.Sprintf("tailer-lag:%d:", iter))
		printLagReport(d, runs, cpu)
		printBytesReport("BenchmarkTailerLag", delta, written, avg)
		printWarnings(g.Tailers["sfo"])
		reportLagMetrics(b, runs, delta, written, avg)
	}
}

// startTailerGeo starts the three regions with quiet logs (storage at
// warn, as the storage benchmark, tailers at info) and waits until a
// write in sfo reaches nyc and ams.
func startTailerGeo(tb testing.TB) *pt.Geo {
	tb.Helper()
	g := pt.StartGeo(tb, pt.GeoOptions{StorageEnv: []string{"LOG_LEVEL=warn"}, TailerEnv: []string{"LOG_LEVEL=info"}})
	c := newRedisConn(g.Replicas["sfo"][0].Addr(), 0).c
	defer c.Close()
	mustOK(tb, c.Set(context.Background(), "tailer:warm-up", "x", 0).Err())
	for _, region := range remoteRegions {
		rc := regionClients(g, region)
		pt.WaitFor(tb, 30*time.Second, "the warm-up write to reach "+region, func() bool {
			return heldBy(rc, "tailer:warm-up") >= 2
		})
		closeAll(rc)
	}
	waitTailerCaughtUp(tb, g, "sfo", 2*time.Minute)
	return g
}

// regionClients returns a go-redis client (one connection) per replica
// of region; close them with closeAll.
func regionClients(g *pt.Geo, region string) []*redis.Client {
	var cs []*redis.Client
	for _, addr := range g.Addrs(region) {
		cs = append(cs, newRedisConn(addr, 0).c)
	}
	return cs
}

func closeAll(cs []*redis.Client) {
	for _, c := range cs {
		c.Close()
	}
}

// heldBy returns how many of the replicas hold key (their own copy, VGET).
func heldBy(cs []*redis.Client, key string) int {
	n := 0
	for _, c := range cs {
		if c.Do(context.Background(), "VGET", key).Err() == nil {
			n++
		}
	}
	return n
}

// tailerBytes are a tailer's shipping counters, per remote region.
type tailerBytes map[string]shipCounters

type shipCounters struct{ sent, wal, records, batches, failed float64 }

func readTailerBytes(t *pt.Tailer) tailerBytes {
	out := make(tailerBytes)
	for _, region := range remoteRegions {
		l := `{region="` + region + `"}`
		m := func(name, labels string) float64 { return pt.Metric(t.AdminAddr(), name+labels) }
		out[region] = shipCounters{
			sent:    m("waltailer_sent_bytes_total", l),
			wal:     m("waltailer_shipped_wal_bytes_total", l),
			records: m("waltailer_shipped_records_total", l),
			batches: m("waltailer_batches_total", `{region="`+region+`",result="ok"}`),
			failed:  m("waltailer_batches_total", `{region="`+region+`",result="error"}`),
		}
	}
	return out
}

func (a tailerBytes) minus(b tailerBytes) tailerBytes {
	out := make(tailerBytes)
	for r, v := range a {
		o := b[r]
		out[r] = shipCounters{v.sent - o.sent, v.wal - o.wal, v.records - o.records, v.batches - o.batches, v.failed - o.failed}
	}
	return out
}

// walRecordSize returns the average size of the records of keys with
// prefix in the WAL files (logs and snapshots) of sfo's first replica,
// read as operators read them: one record per line, NUL padding at the
// end of a live log.
func walRecordSize(tb testing.TB, g *pt.Geo, prefix string) float64 {
	tb.Helper()
	r := g.Replicas["sfo"][0]
	files, err := filepath.Glob(filepath.Join(g.DataDirs["sfo"], "storage-"+strconv.Itoa(r.Port), "*.log"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no WAL file of %s (%v)", r.Name, err)
	}
	var n, size int
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if bytes.HasPrefix(line, []byte("VPUT "+prefix)) && bytes.Contains(line, []byte(" sfo ")) {
				n++
				size += len(line) + 1 // the LF
			}
		}
		f.Close()
	}
	if n == 0 {
		tb.Fatalf("no record of %s* in %s's WAL", prefix, r.Name)
	}
	return float64(size) / float64(n)
}

// tailerKey is key number i of a run's keys.
func tailerKey(prefix string, i int) string { return fmt.Sprintf("%s%08d", prefix, i) }

// lagRun is what one rate measured.
type lagRun struct {
	rate, acked, failed int
	firstErr            error
	elapsed             time.Duration // from the first write's due time to the last OK
	write               percentiles   // from a write's due time to its OK
	every               int           // one write in every sampled
	watchers            []*lagWatcher // per remote region
	cpu                 []time.Duration
	shipped             tailerBytes // by sfo's tailer, during the run and its drain
}

// runLag drives rate writes/s into sfo for d, with a watcher per remote
// region, and waits until sfo's tailer has shipped everything.
func runLag(tb testing.TB, g *pt.Geo, cpu geoCPU, values []string, rate int, d time.Duration, prefix string) lagRun {
	tb.Helper()
	r := lagRun{rate: rate, every: max(1, rate/lagSamplesPerSec)}
	var wg sync.WaitGroup
	for _, region := range remoteRegions {
		w := &lagWatcher{in: make(chan lagSample, 1<<16), region: region, clients: regionClients(g, region)}
		r.watchers = append(r.watchers, w)
		wg.Go(w.run)
	}
	l := &writeLoad{rate: rate, n: int(float64(rate) * d.Seconds()), prefix: prefix, values: values, every: r.every,
		sampled: func(s lagSample) {
			for _, w := range r.watchers {
				w.in <- s
			}
		}}
	cpu0, shipped0 := cpu.read(tb), readTailerBytes(g.Tailers["sfo"])
	l.run(g.Addrs("sfo"))
	r.cpu = cpu.since(tb, cpu0)
	for _, w := range r.watchers {
		close(w.in)
	}
	wg.Wait()
	waitTailerCaughtUp(tb, g, "sfo", 2*time.Minute)
	r.shipped = readTailerBytes(g.Tailers["sfo"]).minus(shipped0)
	r.acked, r.failed, r.firstErr = int(l.acked.Load()), int(l.failed.Load()), l.firstErr
	r.elapsed, r.write = l.elapsed, summarize(l.lat)
	return r
}

func BenchmarkTailerCatchUp(b *testing.B) {
	n := loadFromEnv(b).Ops
	g := startTailerGeo(b)
	values := loadConfig{ValueSize: benchValueSize}.values()
	t := g.Tailers["sfo"]
	b.ResetTimer()
	for iter := range b.N {
		prefix := fmt.Sprintf("tailer-catch-up:%d:", iter)
		t.Terminate()
		wrote := writeBacklog(b, g.Addrs("sfo"), prefix, n, values)
		start := time.Now()
		t.Start()
		took := waitCaughtUp(b, g, start, prefix, n)
		pid := listenerPID(b, t.IP, t.AdminPort)
		cpu := totalCPU(b, []int{pid}) // since its start
		shipped := readTailerBytes(t)  // since its start
		printCatchUpReport(n, wrote, took, cpu)
		fmt.Printf("sfo tailer peak resident memory (VmHWM) while catching up on %s records: %s\n", thousands(float64(n)), peakRSS(b, pid))
		printBytesReport("BenchmarkTailerCatchUp", shipped, n, walRecordSize(b, g, prefix))
		printWarnings(t)
		for _, region := range remoteRegions {
			b.ReportMetric(float64(n)/took[region].Seconds(), region+"-catch-up-records/s")
		}
	}
}

// writeBacklog writes keys 0..n-1 of prefix into sfo as fast as
// pipelines of 50 over tailerWriters connections take them, and returns
// how long it took.
func writeBacklog(tb testing.TB, addrs []string, prefix string, n int, values []string) time.Duration {
	tb.Helper()
	const batch = 50
	work := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	start := time.Now()
	for w := range tailerWriters {
		c := newRedisConn(addrs[w%len(addrs)], 0).c
		wg.Go(func() {
			defer c.Close()
			for from := range work {
				pipe := c.Pipeline()
				for i := from; i < min(from+batch, n); i++ {
					pipe.Set(context.Background(), tailerKey(prefix, i), values[i%len(values)], 0)
				}
				if _, err := pipe.Exec(context.Background()); err != nil {
					once.Do(func() { firstErr = err })
				}
			}
		})
	}
	for from := 0; from < n; from += batch {
		work <- from
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		tb.Fatalf("writing the backlog: %v", firstErr)
	}
	return time.Since(start)
}

// waitCaughtUp returns, per remote region, the time from start until
// sfo's tailer counts no lag for it and the region holds the last key
// written, then every probe key (on 2 of its 3 replicas).
func waitCaughtUp(tb testing.TB, g *pt.Geo, start time.Time, prefix string, n int) map[string]time.Duration {
	tb.Helper()
	var probes []string
	for i := range catchUpProbes {
		probes = append(probes, tailerKey(prefix, i*n/catchUpProbes))
	}
	for i := max(0, n-catchUpLastProbes); i < n; i++ {
		probes = append(probes, tailerKey(prefix, i))
	}
	admin := g.Tailers["sfo"].AdminAddr()
	took := make(map[string]time.Duration)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, region := range remoteRegions {
		wg.Go(func() {
			cs := regionClients(g, region)
			defer closeAll(cs)
			lag := `waltailer_lag_records{region="` + region + `"}`
			pending := probes
			for time.Since(start) < 5*time.Minute {
				if pt.Metric(admin, lag) == 0 && heldBy(cs, tailerKey(prefix, n-1)) >= 2 {
					if pending = notHeld(cs, pending); len(pending) == 0 {
						mu.Lock()
						took[region] = time.Since(start)
						mu.Unlock()
						return
					}
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	for _, region := range remoteRegions {
		if took[region] == 0 {
			tb.Fatalf("%s did not catch up within 5 minutes", region)
		}
	}
	return took
}

// notHeld returns the keys that fewer than 2 of the replicas hold,
// asking each replica in one pipeline.
func notHeld(cs []*redis.Client, keys []string) []string {
	held := make([]int, len(keys))
	for _, c := range cs {
		pipe := c.Pipeline()
		cmds := make([]*redis.Cmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.Do(context.Background(), "VGET", k)
		}
		pipe.Exec(context.Background()) // errors are the commands'
		for i, cmd := range cmds {
			if cmd.Err() == nil {
				held[i]++
			}
		}
	}
	var out []string
	for i, k := range keys {
		if held[i] < 2 {
			out = append(out, k)
		}
	}
	return out
}

// printCatchUpReport prints how fast each remote region caught up.
func printCatchUpReport(n int, wrote time.Duration, took map[string]time.Duration, tailerCPU time.Duration) {
	fmt.Printf("BenchmarkTailerCatchUp: sfo's tailer stopped (SIGTERM) while %s SETs of %d-byte values went into sfo (%d connections, pipelines of 50:\n",
		thousands(float64(n)), benchValueSize, tailerWriters)
	fmt.Printf("  %.1fs, %s writes/s), then started again; caught up: the tailer counts no record unacknowledged by the region and %d probe keys\n",
		wrote.Seconds(), thousands(float64(n)/wrote.Seconds()), catchUpProbes+min(n, catchUpLastProbes))
	fmt.Printf("  (spread over the backlog, and its last %d) are on 2 of the region's 3 replicas; timed from the tailer's start\n", catchUpLastProbes)
	if n < 100_000 {
		fmt.Printf("  NOTE: fewer than 100,000 records (PLANET_BENCH_OPS): a smoke run\n")
	}
	fmt.Printf("\n%-6s %14s %12s\n", "region", "caught up in", "records/s")
	for _, region := range remoteRegions {
		fmt.Printf("%-6s %13.2fs %12s\n", region, took[region].Seconds(), thousands(float64(n)/took[region].Seconds()))
	}
	fmt.Printf("sfo tailer CPU from its start until both caught up: %.2fs, %.1fµs per record per region\n",
		tailerCPU.Seconds(), float64(tailerCPU)/float64(time.Microsecond)/float64(n*len(remoteRegions)))
}

// peakRSS returns the peak resident set size of pid (VmHWM), as the
// kernel prints it: the tailer's memory is bounded by a batch per region,
// whatever the backlog.
func peakRSS(tb testing.TB, pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
