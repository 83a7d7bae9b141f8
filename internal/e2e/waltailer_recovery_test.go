package e2e

// The WAL tailer's recovery paths, on a three-region platform of real
// processes: a tailer SIGKILLed mid-stream resumes from its saved cursors;
// a tailer that fell behind compaction resends the newest snapshot; and
// cross-region anti-entropy repairs records the tailer never saw.
//
// Only sfo writes; nyc and ams must end up holding exactly what sfo
// holds. A remote replica's own copy is read with VGET (GET would read a
// quorum and repair, hiding a copy that is missing).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	pt "planet/internal/planettest"
)

// recoveryNoAntiEntropy puts cross-region anti-entropy out of the way (a
// round a day), so that what reaches the other regions was shipped.
const recoveryNoAntiEntropy = "WALTAILER_ANTI_ENTROPY_INTERVAL=24h"

// recoveryRemotes are the regions sfo's tailer ships to.
var recoveryRemotes = []string{"nyc", "ams"}

func TestTailerKilledResumes(t *testing.T) {
	g := pt.StartGeo(t, pt.GeoOptions{TailerEnv: []string{recoveryNoAntiEntropy}})
	tailer := g.Tailers["sfo"]
	shipped := func(region string) float64 {
		return recoveryMetric(tailer, "waltailer_shipped_records_total", region)
	}
	w := startRecoveryWriters(t, g.Replicas["sfo"], "kill", 4, 32)
	pt.WaitFor(t, 30*time.Second, "sfo's tailer to ship 1000 records to nyc and ams", func() bool {
		return shipped("nyc") >= 1000 && shipped("ams") >= 1000
	})

	// The counter starts over with the process: what it counted before
	// the kill is read just before it. A batch acknowledged between this
	// read and the kill is counted by neither process, so the resent
	// figure below is a slight underestimate (by one batch at most).
	before := make(map[string]float64)
	for _, r := range recoveryRemotes {
		before[r] = shipped(r)
	}
	tailer.Kill()
	killed, ackedAtKill := time.Now(), w.ackedCount()
	pt.WaitFor(t, 30*time.Second, "500 more writes and 0.5 s with the tailer down", func() bool {
		return time.Since(killed) >= 500*time.Millisecond && w.ackedCount() >= ackedAtKill+500
	})
	downtime := time.Since(killed)
	g.StartTailer(t, "sfo")
	ackedAtStart := w.ackedCount()
	pt.WaitFor(t, 30*time.Second, "1000 more writes with the tailer back and shipping", func() bool {
		return w.ackedCount() >= ackedAtStart+1000 && shipped("nyc") > 0 && shipped("ams") > 0
	})
	acked, written, errs := w.halt()
	if errs > 0 {
		t.Logf("%d of %d writes failed (they may be in the WALs: the resent figure is off by at most that)", errs, written)
	}

	want := make(map[string]recoveryWant, len(acked))
	for k, v := range acked {
		want[k] = recoveryWant{value: v}
	}
	took := waitRecoveryHeld(t, g, want, 45*time.Second)
	t.Logf("%d writes (%d acknowledged; %d while the tailer was down for %v), on every replica of nyc and ams %v after the writers stopped",
		written, len(acked), ackedAtStart-ackedAtKill, downtime.Round(time.Millisecond), took.Round(time.Millisecond))

	// Once the cursors are at the ends of the WALs, every batch has been
	// acknowledged and counted.
	waitRecoveryCursorsAtEnd(t, g, 15*time.Second)
	for _, r := range recoveryRemotes {
		after := shipped(r)
		resent := before[r] + after - float64(written)
		frac := resent / float64(written)
		t.Logf("%s: shipped %.0f before the kill + %.0f after the restart for %d records written: %.0f resent (%.1f%%)",
			r, before[r], after, written, resent, 100*frac)
		// The cursor file lags the acknowledgements by at most
		// FlushInterval (200 ms), so a restart resends that much plus the
		// batch in flight: a few hundred records at this write rate, a
		// few percent of everything written. A quarter would mean that
		// the tailer resumed from far behind its last saved cursors (or
		// from the start), which is the bug this guards against; it
		// leaves room for a slow -race run where batches grow while the
		// tailer catches up.
		if frac > 0.25 {
			t.Errorf("%s: %.0f of %d records (%.1f%%) were shipped again after the restart, want under 25%%",
				r, resent, written, 100*frac)
		}
	}
}

func TestTailerCompactionWhileStopped(t *testing.T) {
	g := pt.StartGeo(t, pt.GeoOptions{
		StorageEnv: []string{"STORAGE_COMPACT_BYTES=4096"}, // a new generation every ~55 records
		TailerEnv:  []string{recoveryNoAntiEntropy},
	})
	tailer := g.Tailers["sfo"]
	sfo := g.Replicas["sfo"]
	want := make(map[string]recoveryWant)

	// Shipping works, and every WAL has cursors for both regions, before
	// the tailer stops.
	recoveryWrite(t, sfo, want, "warm", 20, 0)
	waitRecoveryHeld(t, g, want, 30*time.Second)
	waitRecoveryCursorsAtEnd(t, g, 15*time.Second)
	tailer.Terminate()
	saved := readRecoveryCursors(t, g.DataDirs["sfo"])
	if len(saved.Cursors) != len(sfo) {
		t.Fatalf("cursors saved at shutdown for %d WALs, want %d: %+v", len(saved.Cursors), len(sfo), saved)
	}

	// 3000 keys, every fifth deleted afterwards, while the tailer is down.
	recoveryWrite(t, sfo, want, "compact", 3000, 5)
	deleted := 0
	for _, w := range want {
		if w.deleted {
			deleted++
		}
	}

	// Compaction removed the logs that the saved cursors point into (a
	// compaction removes what is older than the previous generation once
	// its snapshot is written, in the background).
	pt.WaitFor(t, 30*time.Second, "compaction to remove the logs the saved cursors point into", func() bool {
		for name, byRegion := range saved.Cursors {
			oldest, _, err := recoveryGenerations(filepath.Join(g.DataDirs["sfo"], name))
			if err != nil {
				return false
			}
			for _, pos := range byRegion {
				digits, _, _ := strings.Cut(pos, ":")
				if gen, err := strconv.ParseUint(digits, 10, 64); err != nil || gen >= oldest {
					return false
				}
			}
		}
		return true
	})
	for name, byRegion := range saved.Cursors {
		oldest, newest, _ := recoveryGenerations(filepath.Join(g.DataDirs["sfo"], name))
		t.Logf("%s: cursors %v saved at shutdown; logs %d to %d left after the writes", name, byRegion, oldest, newest)
	}

	start := time.Now()
	g.StartTailer(t, "sfo")
	gone := func(region string) float64 {
		return recoveryMetric(tailer, "waltailer_generations_gone_total", region)
	}
	pt.WaitFor(t, 20*time.Second, "sfo's tailer to count generations gone for nyc and ams", func() bool {
		return gone("nyc") > 0 && gone("ams") > 0
	})
	took := waitRecoveryHeld(t, g, want, 45*time.Second)
	waitRecoveryDigests(t, g, 30*time.Second)
	t.Logf("%d keys (%d deleted) on every replica of nyc and ams %v after the tailer started, and all 9 digests agree after %v",
		len(want), deleted, took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	// A region applies a batch before it acknowledges it (W replicas
	// hold every record durably): the counters are read once the
	// cursors are at the ends of the WALs, that is once every batch was
	// acknowledged.
	waitRecoveryCursorsAtEnd(t, g, 30*time.Second)
	t.Logf("every batch acknowledged %v after the tailer started", time.Since(start).Round(time.Millisecond))
	for _, r := range recoveryRemotes {
		resent := recoveryMetric(tailer, "waltailer_resent_records_total", r)
		t.Logf("%s: generations gone %.0f, records resent from snapshots %.0f, shipped %.0f, batches failed %.0f", r, gone(r), resent,
			recoveryMetric(tailer, "waltailer_shipped_records_total", r),
			recoveryMetric(tailer, "waltailer_batches_total", r, "result", "error"))
		if resent == 0 {
			t.Errorf("%s: waltailer_resent_records_total = 0: the snapshot was not resent", r)
		}
	}
	if !strings.Contains(tailer.Output(), "resending the snapshot") {
		t.Error("sfo's tailer did not log that it resends a snapshot")
	}
}

func TestTailerAntiEntropyRepairsLostRecords(t *testing.T) {
	// Only sfo's tailer runs: nyc's and ams's would find the difference
	// with sfo on their own and pull the keys first, and they have
	// nothing to ship (only sfo writes).
	g := pt.StartGeo(t, pt.GeoOptions{
		TailerEnv: []string{"WALTAILER_ANTI_ENTROPY_INTERVAL=500ms", "WALTAILER_REPAIR_AFTER=1s"},
		NoTailers: true,
	})
	tailer := g.Tailers["sfo"]
	g.StartTailer(t, "sfo")
	sfo := g.Replicas["sfo"]
	dataDir := g.DataDirs["sfo"]

	warm := make(map[string]recoveryWant)
	recoveryWrite(t, sfo, warm, "warm", 10, 0)
	waitRecoveryHeld(t, g, warm, 30*time.Second)
	tailer.Terminate()

	// K and a few more, every fourth deleted, that the tailer will never
	// read: they are on every sfo replica (so in every WAL) before the
	// cursors are moved past them.
	lost := make(map[string]recoveryWant)
	recoveryWrite(t, sfo, lost, "lost", 12, 4)
	const k = "lost/0" // K
	live, deleted := make(map[string]recoveryWant), make(map[string]recoveryWant)
	for key, w := range lost {
		if w.deleted {
			deleted[key] = w
		} else {
			live[key] = w
		}
	}
	if _, ok := live[k]; !ok || len(deleted) == 0 {
		t.Fatalf("want K = %q live and some keys deleted: %+v", k, lost)
	}
	waitRecoveryHeldBy(t, sfo, lost, 15*time.Second)

	// A lost WAL: every cursor jumps to the current end of its WAL.
	var ends map[string]string
	pt.WaitFor(t, 10*time.Second, "the ends of sfo's WALs", func() bool {
		var err error
		ends, err = recoveryWALEnds(dataDir)
		return err == nil && len(ends) == len(sfo)
	})
	f := recoveryCursorFile{Format: 1, Region: "sfo", Cursors: make(map[string]map[string]string)}
	for name, end := range ends {
		f.Cursors[name] = map[string]string{"nyc": end, "ams": end}
	}
	b, err := json.Marshal(f)
	mustOK(t, err)
	mustOK(t, os.WriteFile(filepath.Join(dataDir, "waltailer", "cursors.json"), b, 0o644))
	t.Logf("cursors.json: %s", b)

	start := time.Now()
	g.StartTailer(t, "sfo")
	took := waitRecoveryHeld(t, g, live, 20*time.Second)
	t.Logf("K and %d more live keys on every replica of nyc and ams %v after the tailer started", len(live)-1, took.Round(time.Millisecond))
	// A bucket whose differing keys are all deleted is repaired with a
	// REPL.APPLY of DEL items only.
	took = waitRecoveryHeld(t, g, deleted, 10*time.Second)
	t.Logf("%d tombstones on every replica of nyc and ams %v later", len(deleted), took.Round(time.Millisecond))
	for _, r := range recoveryRemotes {
		push := recoveryMetric(tailer, "waltailer_anti_entropy_repaired_keys_total", r, "direction", "push")
		pull := recoveryMetric(tailer, "waltailer_anti_entropy_repaired_keys_total", r, "direction", "pull")
		rounds := recoveryMetric(tailer, "waltailer_anti_entropy_rounds_total", r, "result", "repaired")
		t.Logf("%s: anti-entropy repaired %.0f keys pushed, %.0f pulled, in %.0f repairing rounds", r, push, pull, rounds)
		if push < float64(len(lost)) {
			t.Errorf("%s: waltailer_anti_entropy_repaired_keys_total{direction=\"push\"} = %.0f, want at least %d",
				r, push, len(lost))
		}
		if pull != 0 {
			t.Errorf("%s: anti-entropy pulled %.0f keys; nothing was written there", r, pull)
		}
		// Shipping did not do it: the cursors were past these records.
		for _, name := range []string{"waltailer_shipped_records_total", "waltailer_resent_records_total"} {
			if n := recoveryMetric(tailer, name, r); n != 0 {
				t.Errorf("%s: %s = %.0f, want 0 (the records were behind the cursors)", r, name, n)
			}
		}
	}
	waitRecoveryDigests(t, g, 20*time.Second)
	t.Logf("all 9 digests agree %v after the tailer started", time.Since(start).Round(time.Millisecond))

	// Shipping goes on from the moved cursors, also with a batch that is
	// a single tombstone.
	mustOK(t, rdb(t, sfo[1]).Del(context.Background(), k).Err())
	lost[k] = recoveryWant{deleted: true}
	pt.WaitFor(t, 10*time.Second, "sfo's tailer to ship the DEL of K", func() bool {
		return recoveryMetric(tailer, "waltailer_shipped_records_total", "nyc") >= 1 &&
			recoveryMetric(tailer, "waltailer_shipped_records_total", "ams") >= 1
	})
	took = waitRecoveryHeld(t, g, lost, 10*time.Second)
	t.Logf("a lone DEL shipped: on every replica of nyc and ams after %v", took.Round(time.Millisecond))
}

// recoveryWant is the state a replica must hold for a key: the value, or
// a tombstone.
type recoveryWant struct {
	value   string
	deleted bool
}

// recoveryWriters write distinct keys to a region's replicas, pipelined,
// until halted.
type recoveryWriters struct {
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	mu      sync.Mutex
	acked   map[string]string // guarded by mu: key → value, acknowledged
	written int               // guarded by mu: keys sent, acknowledged or not
	errs    int               // guarded by mu
	lastErr error             // guarded by mu
}

// startRecoveryWriters starts n writers over rs, each sending pipelines of
// depth SETs of new keys under prefix. They stop with halt, or with the
// test.
func startRecoveryWriters(t testing.TB, rs []*pt.Replica, prefix string, n, depth int) *recoveryWriters {
	w := &recoveryWriters{stop: make(chan struct{}), acked: make(map[string]string)}
	clients := make([]*redis.Client, len(rs))
	for i, r := range rs {
		clients[i] = rdb(t, r)
	}
	t.Cleanup(func() { w.halt() }) // before the clients close (cleanups run last first)
	for i := range n {
		c := clients[i%len(clients)]
		w.wg.Go(func() { w.run(c, fmt.Sprintf("%s/w%d", prefix, i), depth) })
	}
	return w
}

func (w *recoveryWriters) run(c *redis.Client, prefix string, depth int) {
	ctx := context.Background()
	keys := make([]string, depth)
	for n := 0; ; n++ {
		select {
		case <-w.stop:
			return
		default:
		}
		pipe := c.Pipeline()
		for j := range keys {
			keys[j] = fmt.Sprintf("%s/%d", prefix, n*depth+j)
			pipe.Set(ctx, keys[j], "v:"+keys[j], 0)
		}
		cmds, _ := pipe.Exec(ctx)
		w.mu.Lock()
		w.written += len(keys)
		for j, cmd := range cmds {
			if err := cmd.Err(); err != nil {
				w.errs++
				w.lastErr = err
				continue
			}
			w.acked[keys[j]] = "v:" + keys[j]
		}
		w.mu.Unlock()
	}
}

func (w *recoveryWriters) ackedCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// halt stops the writers and returns the acknowledged writes, how many
// were sent and how many failed. Idempotent.
func (w *recoveryWriters) halt() (acked map[string]string, written, errs int) {
	w.once.Do(func() { close(w.stop) })
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.acked), w.written, w.errs
}

// recoveryWrite sets n keys "<prefix>/<i>" through rs in turn, pipelined,
// then deletes every del-th one (none if del is 0), and records the final
// state in want. Every write must be acknowledged.
func recoveryWrite(t testing.TB, rs []*pt.Replica, want map[string]recoveryWant, prefix string, n, del int) {
	t.Helper()
	ctx := context.Background()
	clients := make([]*redis.Client, len(rs))
	for i, r := range rs {
		clients[i] = rdb(t, r)
	}
	const depth = 100
	for i := 0; i < n; i += depth {
		pipe := clients[(i/depth)%len(clients)].Pipeline()
		for j := i; j < min(i+depth, n); j++ {
			k := fmt.Sprintf("%s/%d", prefix, j)
			pipe.Set(ctx, k, "v:"+k, 0)
			want[k] = recoveryWant{value: "v:" + k}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatalf("writing %s/%d..: %v", prefix, i, err)
		}
	}
	if del == 0 {
		return
	}
	pipe := clients[0].Pipeline()
	for j := del - 1; j < n; j += del {
		k := fmt.Sprintf("%s/%d", prefix, j)
		pipe.Del(ctx, k)
		want[k] = recoveryWant{deleted: true}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("deleting %s keys: %v", prefix, err)
	}
}

// waitRecoveryHeld waits until every replica of nyc and ams holds the
// state want gives for each key, and returns how long that took.
func waitRecoveryHeld(t testing.TB, g *pt.Geo, want map[string]recoveryWant, timeout time.Duration) time.Duration {
	t.Helper()
	var rs []*pt.Replica
	for _, r := range recoveryRemotes {
		rs = append(rs, g.Replicas[r]...)
	}
	return waitRecoveryHeldBy(t, rs, want, timeout)
}

// waitRecoveryHeldBy waits until each of rs holds, as its own copy (VGET),
// the state want gives for each key. It asks each replica only for the
// keys it did not hold yet.
func waitRecoveryHeldBy(t testing.TB, rs []*pt.Replica, want map[string]recoveryWant, timeout time.Duration) time.Duration {
	t.Helper()
	keys := slices.Sorted(maps.Keys(want))
	clients := make([]*redis.Client, len(rs))
	pending := make([][]string, len(rs))
	for i, r := range rs {
		clients[i], pending[i] = rdb(t, r), keys
	}
	var last string
	defer func() {
		if t.Failed() {
			t.Logf("at the deadline: %s", last)
		}
	}()
	return pt.WaitFor(t, timeout, fmt.Sprintf("%d keys of sfo on %d replicas", len(keys), len(rs)), func() bool {
		var missing []string
		for i, c := range clients {
			pending[i] = recoveryNotHeld(c, pending[i], want)
			if len(pending[i]) > 0 {
				missing = append(missing, fmt.Sprintf("%s lacks %d keys (first %q)", rs[i].Name, len(pending[i]), pending[i][0]))
			}
		}
		last = strings.Join(missing, "; ")
		return len(missing) == 0
	})
}

// recoveryNotHeld returns the keys whose copy on c's replica is not the
// state want gives (none, another value, a value instead of a tombstone).
func recoveryNotHeld(c *redis.Client, keys []string, want map[string]recoveryWant) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []string
	for i := 0; i < len(keys); i += 1000 {
		chunk := keys[i:min(i+1000, len(keys))]
		pipe := c.Pipeline()
		cmds := make([]*redis.Cmd, len(chunk))
		for j, k := range chunk {
			cmds[j] = pipe.Do(ctx, "VGET", k)
		}
		pipe.Exec(ctx) // each command's error is checked below
		for j, cmd := range cmds {
			v, err := cmd.Slice()
			w := want[chunk[j]]
			held := err == nil && len(v) == 2 && v[1] != nil &&
				(w.deleted && v[0] == nil || !w.deleted && v[0] == w.value)
			if !held {
				out = append(out, chunk[j])
			}
		}
	}
	return out
}

// waitRecoveryDigests waits until every replica of every region returns
// the same REPL.DIGEST, and returns how long that took.
func waitRecoveryDigests(t testing.TB, g *pt.Geo, timeout time.Duration) time.Duration {
	t.Helper()
	rs := g.AllReplicas()
	clients := make([]*redis.Client, len(rs))
	for i, r := range rs {
		clients[i] = rdb(t, r)
	}
	var last string
	defer func() {
		if t.Failed() {
			t.Logf("at the deadline: %s", last)
		}
	}()
	return pt.WaitFor(t, timeout, fmt.Sprintf("the digests of all %d replicas to agree", len(rs)), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		groups := make(map[string][]string) // digest → replicas
		for i, c := range clients {
			d, err := c.Do(ctx, "REPL.DIGEST").Text()
			if err != nil {
				last = fmt.Sprintf("%s: %v", rs[i].Name, err)
				return false
			}
			groups[d] = append(groups[d], rs[i].Name)
		}
		last = fmt.Sprintf("%d different digests: %v", len(groups), slices.Collect(maps.Values(groups)))
		return len(groups) == 1
	})
}

// recoveryMetric returns a sample of the tailer's /metrics: name with
// the label region and any further label pairs ("direction", "push").
func recoveryMetric(tl *pt.Tailer, name, region string, labels ...string) float64 {
	sample := fmt.Sprintf("%s{region=%q", name, region)
	for i := 0; i+1 < len(labels); i += 2 {
		sample += fmt.Sprintf(",%s=%q", labels[i], labels[i+1])
	}
	return pt.Metric(tl.AdminAddr(), sample+"}")
}

// waitRecoveryCursorsAtEnd waits until sfo's tailer reports, for nyc and
// ams, every cursor at the end of its WAL: everything written has been
// acknowledged.
func waitRecoveryCursorsAtEnd(t testing.TB, g *pt.Geo, timeout time.Duration) {
	t.Helper()
	var last string
	defer func() {
		if t.Failed() {
			t.Logf("at the deadline: %s", last)
		}
	}()
	pt.WaitFor(t, timeout, "sfo's cursors at the ends of its WALs", func() bool {
		ends, err := recoveryWALEnds(g.DataDirs["sfo"])
		if err != nil {
			last = err.Error()
			return false
		}
		st, ok := g.Tailers["sfo"].Status()
		if !ok {
			last = "no status"
			return false
		}
		last = fmt.Sprintf("WAL ends %v, status %+v", ends, st.Regions)
		atEnd := 0
		for _, rs := range st.Regions {
			for name, end := range ends {
				if rs.Cursors[name] != end {
					return false
				}
			}
			atEnd++
		}
		return atEnd == len(recoveryRemotes)
	})
}

// recoveryCursorFile is the tailer's DATA_DIR/waltailer/cursors.json
// (waltailer/cursors.go), positions in their text form.
type recoveryCursorFile struct {
	Format  int                          `json:"format"`
	Region  string                       `json:"region"`
	Cursors map[string]map[string]string `json:"cursors"`
}

func readRecoveryCursors(t testing.TB, dataDir string) recoveryCursorFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "waltailer", "cursors.json"))
	mustOK(t, err)
	var f recoveryCursorFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("cursors.json: %v: %s", err, b)
	}
	return f
}

// recoveryWALEnds returns, for each storage-<port> directory of dataDir,
// the end of the records of its newest log as a position "<gen>:<offset>"
// (package storage/wal: the records end at the first NUL, where the
// writer's padding starts, or at the end of the file). It fails if the
// last record is partly written.
func recoveryWALEnds(dataDir string) (map[string]string, error) {
	dirs, err := filepath.Glob(filepath.Join(dataDir, "storage-*"))
	if err != nil {
		return nil, err
	}
	ends := make(map[string]string)
	for _, dir := range dirs {
		_, newest, err := recoveryGenerations(dir)
		if err != nil {
			return nil, err
		}
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("wal-%016d.log", newest)))
		if err != nil {
			return nil, err
		}
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			return nil, fmt.Errorf("%s: a record is partly written at %d:%d", dir, newest, len(b))
		}
		ends[filepath.Base(dir)] = fmt.Sprintf("%d:%d", newest, len(b))
	}
	return ends, nil
}

// recoveryGenerations returns the oldest and newest generation of the
// logs (wal-<gen>.log) in a storage directory.
func recoveryGenerations(dir string) (oldest, newest uint64, err error) {
	names, err := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	if err != nil {
		return 0, 0, err
	}
	for _, name := range names {
		digits := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(name), "wal-"), ".log")
		gen, err := strconv.ParseUint(digits, 10, 64)
		if err != nil {
			continue // not a log
		}
		if oldest == 0 || gen < oldest {
			oldest = gen
		}
		newest = max(newest, gen)
	}
	if newest == 0 {
		return 0, 0, fmt.Errorf("no log in %s", dir)
	}
	return oldest, newest, nil
}
