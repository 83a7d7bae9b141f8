package e2e

import (
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	pt "planet/internal/planettest"
)

// System benchmarks of discovery: three real regions on loopback. They run
// one scenario per b.N iteration and print their figures for a human; run
// them with -benchtime 1x (make bench).

const (
	propagationCount    = 100              // registrations measured per run
	propagationDeadline = 10 * time.Second // per registration
	listClients         = 50               // concurrent HTTP clients
	defaultLoadDuration = 5 * time.Second  // overridden by BENCH_DURATION
)

// BenchmarkDiscoveryPropagation measures how long a registration in sfo
// takes to be listed in both nyc and ams.
func BenchmarkDiscoveryPropagation(b *testing.B) {
	c := pt.StartDiscovery(b, "sfo", "nyc", "ams")
	waitAllAlive(b, c)
	sfo, nyc, ams := c.Regions["sfo"], c.Regions["nyc"], c.Regions["ams"]
	b.ResetTimer()
	for iter := range b.N {
		delays := make([]time.Duration, propagationCount)
		for i := range delays {
			name := fmt.Sprintf("prop-%d-%d", iter, i)
			port := 20000 + i
			start := time.Now()
			pt.Register(b, sfo.Addr(), name, fmt.Sprintf("127.0.0.1:%d", port), "10m")
			want := net.JoinHostPort(sfo.IP, fmt.Sprint(port)) // rewritten to sfo's WG_IP
			delays[i] = waitListedIn(b, start, name, want, "sfo", nyc, ams)
		}
		p := summarize(delays)
		fmt.Printf("discovery propagation (%d registrations, sfo -> nyc+ams): median %s p90 %s p99 %s max %s  target p99 < 1s\n",
			len(delays), ms(p.p50), ms(p.p90), ms(p.p99), ms(p.max))
		b.ReportMetric(msFloat(p.p50), "median-ms")
		b.ReportMetric(msFloat(p.p99), "p99-ms")
	}
}

// waitListedIn polls every region in parallel, every millisecond, until
// each lists name at address from origin, and returns the time from start
// until the last one did.
func waitListedIn(tb testing.TB, start time.Time, name, address, origin string, regions ...*pt.Region) time.Duration {
	tb.Helper()
	seen := make([]time.Duration, len(regions))
	var wg sync.WaitGroup
	for i, r := range regions {
		wg.Go(func() {
			deadline := start.Add(propagationDeadline)
			for time.Now().Before(deadline) {
				if pt.Has(pt.List(r.Addr(), name, ""), address, origin) {
					seen[i] = time.Since(start)
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	for i, d := range seen {
		if d == 0 {
			tb.Fatalf("%s (%s) not listed in %s within %v", name, address, regions[i].Name, propagationDeadline)
		}
	}
	return slices.Max(seen)
}

// BenchmarkDiscoveryList drives GET /v1/services/{name} against one region
// holding 1,000 instances of 100 services spread over three regions, then
// the same against one service with 1,000 instances.
func BenchmarkDiscoveryList(b *testing.B) {
	duration := loadDuration(b)
	c := pt.StartDiscovery(b, "sfo", "nyc", "ams")
	waitAllAlive(b, c)
	regions := []*pt.Region{c.Regions["sfo"], c.Regions["nyc"], c.Regions["ams"]}
	nyc := c.Regions["nyc"]

	const services, perService, bigCount = 100, 10, 1000
	want := make(map[string]int)
	var names []string
	for s := range services {
		name := fmt.Sprintf("svc-%03d", s)
		names = append(names, name)
		want[name] = perService
		for k := range perService {
			r := regions[(s*perService+k)%len(regions)]
			pt.Register(b, r.Addr(), name, fmt.Sprintf("10.%d.%d.%d:8080", 1+s/250, s%250, 1+k), "10m")
		}
	}
	want["big"] = bigCount
	for i := range bigCount {
		pt.Register(b, regions[i%len(regions)].Addr(), "big", fmt.Sprintf("10.200.%d.%d:9000", i/250, 1+i%250), "10m")
	}
	waitCounts(b, nyc.Addr(), want, 60*time.Second)
	b.ResetTimer()

	for range b.N {
		small := driveList(b, nyc.Addr(), names, duration)
		fmt.Printf("discovery list (%d instances of %d services in 3 regions, %d clients, %v, GET nyc): %s req/s p50 %s p99 %s errors %d  target >= 20,000 req/s\n",
			services*perService, services, listClients, duration, thousands(small.rate()), ms(small.p.p50), ms(small.p.p99), small.errors)
		big := driveList(b, nyc.Addr(), []string{"big"}, duration)
		fmt.Printf("discovery list big (one service with %d instances, %d clients, %v, GET nyc): %s req/s p50 %s p99 %s errors %d  (informational)\n",
			bigCount, listClients, duration, thousands(big.rate()), ms(big.p.p50), ms(big.p.p99), big.errors)
		for _, r := range []loadResult{small, big} {
			if r.errors > 0 {
				b.Fatalf("%d of %d requests failed; first: %v", r.errors, r.requests, r.firstErr)
			}
		}
		b.ReportMetric(small.rate(), "req/s")
		b.ReportMetric(msFloat(small.p.p99), "p99-ms")
		b.ReportMetric(big.rate(), "big-req/s")
		b.ReportMetric(msFloat(big.p.p99), "big-p99-ms")
	}
}

// loadDuration is how long each load phase runs: BENCH_DURATION or 5s.
func loadDuration(tb testing.TB) time.Duration {
	v := os.Getenv("BENCH_DURATION")
	if v == "" {
		return defaultLoadDuration
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		tb.Fatalf("BENCH_DURATION=%q: want a positive Go duration such as 5s", v)
	}
	return d
}

// waitCounts polls addr until every service in want lists exactly its
// number of instances.
func waitCounts(tb testing.TB, addr string, want map[string]int, timeout time.Duration) {
	tb.Helper()
	pending := maps.Clone(want)
	pt.WaitFor(tb, timeout, fmt.Sprintf("%s lists every registered instance", addr), func() bool {
		for name, n := range pending {
			if len(pt.List(addr, name, "")) != n {
				return false
			}
			delete(pending, name)
		}
		return true
	})
}

type loadResult struct {
	requests, errors int
	firstErr         error
	elapsed          time.Duration
	p                percentiles
}

func (r loadResult) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// driveList runs listClients goroutines that GET random names from addr
// over keep-alive connections for d.
func driveList(tb testing.TB, addr string, names []string, d time.Duration) loadResult {
	tr := &http.Transport{MaxIdleConns: 2 * listClients, MaxIdleConnsPerHost: 2 * listClients, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	urls := make([]string, len(names))
	for i, n := range names {
		urls[i] = "http://" + addr + "/v1/services/" + n
	}

	type clientResult struct {
		latencies []time.Duration
		errors    int
		firstErr  error
	}
	results := make([]clientResult, listClients)
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			res := &results[i]
			res.latencies = make([]time.Duration, 0, 1<<14)
			for time.Now().Before(end) {
				t := time.Now()
				err := getOK(client, urls[rand.IntN(len(urls))])
				res.latencies = append(res.latencies, time.Since(t))
				if err != nil {
					res.errors++
					if res.firstErr == nil {
						res.firstErr = err
					}
				}
			}
		})
	}
	wg.Wait()
	out := loadResult{elapsed: time.Since(start)}
	var all []time.Duration
	for _, r := range results {
		all = append(all, r.latencies...)
		out.errors += r.errors
		if out.firstErr == nil {
			out.firstErr = r.firstErr
		}
	}
	out.requests = len(all)
	if out.requests == 0 {
		tb.Fatal("no request completed")
	}
	out.p = summarize(all)
	return out
}

// getOK GETs url and reads the whole body; anything but 200 is an error.
func getOK(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// waitAllAlive waits until every region sees every region alive (the
// benchmark counterpart of waitFederated).
func waitAllAlive(tb testing.TB, c *pt.Cluster) {
	tb.Helper()
	for _, r := range c.Regions {
		pt.WaitFor(tb, 20*time.Second, r.Name+" sees every region alive", func() bool {
			return aliveRegions(r.Addr()) == len(c.Regions)
		})
	}
}

type percentiles struct{ p50, p90, p99, max time.Duration }

// summarize sorts ds and returns its nearest-rank percentiles.
func summarize(ds []time.Duration) percentiles {
	slices.Sort(ds)
	return percentiles{p50: nearestRank(ds, 50), p90: nearestRank(ds, 90), p99: nearestRank(ds, 99), max: ds[len(ds)-1]}
}

// nearestRank returns the p-th percentile of sorted: the smallest value
// with at least p% of the values at or below it.
func nearestRank(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}

func msFloat(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", msFloat(d)) }

// thousands formats f rounded to an integer with comma separators.
func thousands(f float64) string {
	s := fmt.Sprintf("%d", int64(f+0.5))
	var out strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out.WriteByte(',')
		}
		out.WriteRune(c)
	}
	return out.String()
}
