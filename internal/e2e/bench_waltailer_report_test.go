package e2e

import (
	"cmp"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	pt "planet/internal/planettest"
)

// geoCPU is the CPU time of the platform's processes, in groups, of
// this process (the load generator and the watchers), and of the whole
// machine, whose other processes compete for the same cores.
type geoCPU []struct {
	name string
	pids []int // nil: the whole machine
}

func newGeoCPU(tb testing.TB, g *pt.Geo) geoCPU {
	tb.Helper()
	replicas := func(regions ...string) []int {
		var pids []int
		for _, region := range regions {
			for _, r := range g.Replicas[region] {
				pids = append(pids, listenerPID(tb, r.IP, r.Port))
			}
		}
		return pids
	}
	tailer := func(region string) []int {
		t := g.Tailers[region]
		return []int{listenerPID(tb, t.IP, t.AdminPort)}
	}
	return geoCPU{
		{"sfo storage", replicas("sfo")}, {"nyc+ams storage", replicas("nyc", "ams")},
		{"sfo tailer", tailer("sfo")}, {"nyc+ams tailers", append(tailer("nyc"), tailer("ams")...)},
		{"this process", []int{os.Getpid()}}, {"whole machine", nil},
	}
}

func (c geoCPU) read(tb testing.TB) []time.Duration {
	tb.Helper()
	out := make([]time.Duration, len(c))
	for i, group := range c {
		if group.pids == nil {
			out[i] = machineCPU(tb)
			continue
		}
		out[i] = totalCPU(tb, group.pids)
	}
	return out
}

func (c geoCPU) since(tb testing.TB, before []time.Duration) []time.Duration {
	tb.Helper()
	out := c.read(tb)
	for i := range out {
		out[i] -= before[i]
	}
	return out
}

// of returns group name's figure of ds, one of read's or since's.
func (c geoCPU) of(name string, ds []time.Duration) time.Duration {
	for i, group := range c {
		if group.name == name {
			return ds[i]
		}
	}
	panic("no CPU group " + name)
}

// machineCPU returns the time the machine's CPUs were busy (not idle or
// waiting for I/O) since boot, from /proc/stat.
func machineCPU(tb testing.TB) time.Duration {
	tb.Helper()
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		tb.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy uint64
	for i, v := range f[1:min(len(f), 8)] { // not steal: another guest's
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			tb.Fatalf("/proc/stat: %q", line)
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return time.Duration(busy) * clockTick()
}

// printLagReport prints the setup, then the lag table, then where the
// CPU went.
func printLagReport(d time.Duration, runs []lagRun, cpu geoCPU) {
	fmt.Printf("BenchmarkTailerLag: 3 regions on loopback, one machine (%d cores): discovery, 3 storage replicas (W=2 R=2, fsync always) and a WAL tailer each\n", runtime.NumCPU())
	fmt.Printf("  load: %v per rate of SETs of distinct keys with %d-byte values into sfo, open loop paced every %v, %d go-redis connections\n",
		d, benchValueSize, tailerTick, tailerWriters)
	fmt.Printf("     (%d per sfo replica), each pipelining the writes due when it is free (<= %d); write p99: from a write's due time to its OK\n",
		tailerWriters/3, tailerPipeline)
	fmt.Printf("  lag: from a write's OK in sfo until 2 of the region's 3 replicas hold it (then every quorum GET there returns it), polled with\n")
	fmt.Printf("     pipelined VGETs to each replica every %v while keys are pending (the oldest %d; every 1/20 of the oldest's age, <= %v, when far behind);\n",
		lagPollInterval, lagPollKeys, lagPollMax)
	fmt.Printf("     ~%d writes/s sampled; missing: not readable within %v\n", lagSamplesPerSec, lagDeadline)
	printLagTable(runs)
	printLagCPU(runs, cpu)
}

// printLagTable prints per rate and remote region the lag percentiles
// against the target.
func printLagTable(runs []lagRun) {
	fmt.Printf("\n%8s %10s %10s %-6s %8s %10s %10s %10s %8s  %s\n",
		"rate/s", "achieved/s", "write p99", "region", "samples", "lag p50", "lag p99", "lag max", "missing", "target p99 < "+ms(tailerLagTarget))
	for _, r := range runs {
		for i, w := range r.watchers {
			head := fmt.Sprintf("%8s %10s %10s", "", "", "")
			if i == 0 {
				head = fmt.Sprintf("%8s %10s %10s", thousands(float64(r.rate)), thousands(float64(r.acked)/r.elapsed.Seconds()), ms(r.write.p99))
			}
			if len(w.lags) == 0 {
				fmt.Printf("%s %-6s %8d %10s %10s %10s %8d  NOT met\n", head, w.region, 0, "-", "-", "-", w.missing)
				continue
			}
			p := summarize(w.lags)
			fmt.Printf("%s %-6s %8s %10s %10s %10s %8d  %s\n", head, w.region, thousands(float64(len(w.lags))),
				ms(p.p50), ms(p.p99), ms(p.max), w.missing, verdict(w.missing == 0 && p.p99 < tailerLagTarget))
		}
	}
}

// printLagCPU prints per rate where the CPU went, and what the watchers
// asked.
func printLagCPU(runs []lagRun, cpu geoCPU) {
	fmt.Println()
	for _, r := range runs {
		secs := r.elapsed.Seconds()
		var groups []string
		for i, group := range cpu {
			groups = append(groups, fmt.Sprintf("%s %.2f", group.name, r.cpu[i].Seconds()/secs))
		}
		fmt.Printf("%s writes/s: %s acknowledged, %d failed; CPU during the load, in cores of %d: %s", thousands(float64(r.rate)),
			thousands(float64(r.acked)), r.failed, runtime.NumCPU(), strings.Join(groups, ", "))
		var rounds, vgets, errs int
		var firstErr error
		for _, w := range r.watchers {
			rounds, vgets, errs = rounds+w.rounds, vgets+w.vgets, errs+w.errors
			firstErr = cmp.Or(firstErr, w.firstErr)
		}
		fmt.Printf("; watchers: %s VGET round trips/s, %s VGETs/s, %d errors; sfo tailer:",
			thousands(float64(rounds)/secs), thousands(float64(vgets)/secs), errs)
		for _, region := range remoteRegions {
			s := r.shipped[region]
			fmt.Printf(" %s %s batches of %.1f records,", region, thousands(s.batches), s.records/s.batches)
		}
		fmt.Printf(" %.1fµs CPU per record per region\n", float64(cpu.of("sfo tailer", r.cpu))/float64(time.Microsecond)/float64(r.acked*len(remoteRegions)))
		for _, err := range []error{r.firstErr, firstErr} {
			if err != nil {
				fmt.Printf("  first error: %v\n", err)
			}
		}
	}
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "NOT met"
}

// printBytesReport prints, per remote region, the bytes sent for the
// records written, over their size in the WAL.
func printBytesReport(name string, shipped tailerBytes, written int, walRecord float64) {
	fmt.Printf("\n%s: cross-region bytes per record, from sfo's tailer (waltailer_*_total), %s records written in sfo,\n", name, thousands(float64(written)))
	fmt.Printf("  %.1f bytes each in sfo's WAL (the average over its WAL file); the naive design (every local WAL's copy to every remote replica) sends %d times that\n",
		walRecord, naiveBytesPerRecord)
	fmt.Printf("%-6s %16s %14s %9s %7s %10s %15s %24s  %s\n", "region", "records shipped", "bytes sent", "batches", "failed", "rec/batch",
		"sent/WAL bytes", "sent/written/WAL record", fmt.Sprintf("target <= %.1f", tailerBytesTarget))
	for _, region := range remoteRegions {
		s := shipped[region]
		perRecord := s.sent / float64(written) / walRecord
		fmt.Printf("%-6s %16s %14s %9s %7s %10.1f %15.3f %24.3f  %s\n", region, thousands(s.records), thousands(s.sent),
			thousands(s.batches), thousands(s.failed), s.records/s.batches, s.sent/s.wal, perRecord, verdict(perRecord <= tailerBytesTarget))
	}
}

// printWarnings prints how many warnings and errors the tailer logged,
// and the first few: why batches failed.
func printWarnings(t *pt.Tailer) {
	var lines []string
	for _, line := range strings.Split(t.Output(), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			lines = append(lines, line)
		}
	}
	fmt.Printf("%s's tailer logged %d warnings and errors\n", t.Region, len(lines))
	for _, line := range lines[:min(len(lines), 3)] {
		fmt.Printf("  %s\n", line)
	}
}

// reportLagMetrics reports the key figures to the testing package.
func reportLagMetrics(b *testing.B, runs []lagRun, shipped tailerBytes, written int, walRecord float64) {
	for _, r := range runs {
		k := fmt.Sprintf("%gk-", float64(r.rate)/1000)
		b.ReportMetric(float64(r.acked)/r.elapsed.Seconds(), k+"writes/s")
		for _, w := range r.watchers {
			if len(w.lags) > 0 {
				p := summarize(w.lags)
				b.ReportMetric(msFloat(p.p50), k+w.region+"-p50-ms")
				b.ReportMetric(msFloat(p.p99), k+w.region+"-p99-ms")
			}
		}
	}
	for _, region := range remoteRegions {
		b.ReportMetric(shipped[region].sent/float64(written)/walRecord, region+"-bytes/wal-byte")
	}
}

// BenchmarkTailerCatchUp stops sfo's tailer (SIGTERM), writes 100,000
// records into sfo (pipelined, 256-byte values), starts the tailer again
// and times it until each remote region holds all of them: the tailer
// counts no record unacknowledged by the region, and probe keys spread
// over the backlog, and its last ones, are on two of the region's three
// replicas. PLANET_BENCH_OPS shortens it.
