package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"planet/internal/hlc"
	pt "planet/internal/planettest"
	"planet/storage/wal"
)

// The WAL tailer's tests run three regions of real processes
// (planettest.Geo), write through go-redis in some of them, and check what
// every replica of every region holds (VGET, and REPL.DIGEST through
// `planet verify`) and what the tailers report (/metrics, /v1/status).

// geoTailerEnv puts the tailers' cross-region anti-entropy, the backstop
// of shipping, out of the tests' reach: shipping alone must converge the
// regions.
var geoTailerEnv = []string{"WALTAILER_ANTI_ENTROPY_INTERVAL=24h"}

// clockSlackMillis allows for the wall clock stepping between readings in
// the test and in the replicas, which all read the same system clock.
const clockSlackMillis = 2

// convergeTimeout bounds how long the regions take to agree once the
// writes stopped (or the outage ended).
const convergeTimeout = 30 * time.Second

// TestTailerConvergence: a lone SET, then a lone DEL, written in sfo
// reach every replica of every region (a batch of one DEL is the shortest
// REPL.APPLY). Then two writers per region SET (80%) and DEL (20%)
// keys of a set that all regions share, through every replica of their
// region in turn, and SET keys of their own. Once they stop, the digests of
// all nine replicas agree, and every replica holds the same value and
// version of every key. Each shared key ends as a write that last-writer-
// wins can pick: its value (or a DEL), with a version minted while that
// write was in flight, in its region, and no acknowledged write of the key
// began after it was acknowledged (all replicas read one clock, so such a
// write has a higher version). Every acknowledged write of a key of its own
// is in every replica: nothing acknowledged is lost.
func TestTailerConvergence(t *testing.T) {
	g := pt.StartGeo(t, pt.GeoOptions{TailerEnv: geoTailerEnv})
	ctx := context.Background()
	everyReplica := replicaClients(t, g.AllReplicas())
	sfo := rdb(t, g.Replicas["sfo"][0])
	mustOK(t, sfo.Set(ctx, "lone", "x", 0).Err())
	waitHeld(t, "a lone SET everywhere", everyReplica, map[string]string{"lone": "x"})
	mustOK(t, sfo.Del(ctx, "lone").Err())
	waitHeld(t, "a lone DEL everywhere", everyReplica, map[string]string{"lone": ""})

	const writersPerRegion = 2
	until := time.Now().Add(3 * time.Second)
	logs := make([][]geoWrite, len(g.Names)*writersPerRegion)
	var wg sync.WaitGroup
	for ri, region := range g.Names {
		clients := replicaClients(t, g.Replicas[region])
		for w := range writersPerRegion {
			load := mixedLoad{region: region, writer: w, seed: uint64(ri), sharedKeys: 200, until: until}
			wg.Go(func() { logs[ri*writersPerRegion+w] = load.run(clients) })
		}
	}
	wg.Wait()
	byKey := make(map[string][]geoWrite)
	var acked, dels, failed int
	for _, l := range logs {
		for _, w := range l {
			byKey[w.key] = append(byKey[w.key], w)
			acked, dels, failed = acked+b2i(w.acked), dels+b2i(w.del), failed+b2i(!w.acked)
		}
	}
	t.Logf("%d writes to %d keys: %d acknowledged, %d DEL, %d failed", acked+failed, len(byKey), acked, dels, failed)

	t.Logf("all 9 replicas agree %v after the writes stopped", waitConverged(t, g).Round(time.Millisecond))
	final := requireSameEverywhere(t, everyReplica, byKey)
	tombstones, contended := 0, 0
	for k, ws := range byKey {
		e := final[k]
		if !strings.HasPrefix(k, "shared/") {
			if w := ws[0]; w.acked && (!e.live() || e.value != w.value || e.origin() != w.region) {
				t.Errorf("acknowledged write lost: %s = %q from %s, every replica holds %v", k, w.value, w.region, e)
			}
			continue
		}
		tombstones += b2i(e.present && e.deleted)
		contended += b2i(slices.ContainsFunc(ws, func(w geoWrite) bool { return w.region != ws[0].region }))
		if err := lastWriterCanWin(e, ws); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	t.Logf("shared keys: %d written by more than one region, %d end deleted", contended, tombstones)
	waitTailersCaughtUp(t, g)
}

// TestTailerRegionOutage: ams goes down entirely (discovery, replicas and
// tailer SIGKILLed) while sfo and nyc write keys of their own. sfo's
// tailer reports ams as retrying or lagging; sfo and nyc keep shipping to
// each other. Once ams is back (discovery, then replicas, then tailer),
// every acknowledged write of sfo and nyc reaches every ams replica, and
// all nine replicas agree.
func TestTailerRegionOutage(t *testing.T) {
	g := pt.StartGeo(t, pt.GeoOptions{TailerEnv: geoTailerEnv})
	ctx := context.Background()
	// Before the outage every tailer has shipped to every region.
	before := make(map[string]string)
	for _, region := range g.Names {
		k := "before/" + region
		mustOK(t, rdb(t, g.Replicas[region][0]).Set(ctx, k, region, 0).Err())
		before[k] = region
	}
	waitHeld(t, "the first writes everywhere", replicaClients(t, g.AllReplicas()), before)

	ams := g.Cluster.Regions["ams"]
	ams.Kill()
	for _, r := range g.Replicas["ams"] {
		r.Kill()
	}
	g.Tailers["ams"].Kill()

	until := time.Now().Add(2 * time.Second)
	written := make([]map[string]string, 2*2)
	var wg sync.WaitGroup
	for ri, region := range []string{"sfo", "nyc"} {
		clients := replicaClients(t, g.Replicas[region])
		for w := range 2 {
			wg.Go(func() { written[ri*2+w] = uniqueWrites(clients, region, w, until) })
		}
	}
	wg.Wait()
	fromSFO, fromNYC := unionOf(written[:2]...), unionOf(written[2:]...)
	t.Logf("while ams was down: %d writes acknowledged in sfo, %d in nyc", len(fromSFO), len(fromNYC))

	sfoTailer := g.Tailers["sfo"]
	pt.WaitFor(t, 10*time.Second, "sfo's tailer to report ams retrying or lagging", func() bool {
		rs, ok := regionStatus(sfoTailer, "ams")
		return ok && (rs.State == "retrying" || rs.LagRecords > 0)
	})
	rs, _ := regionStatus(sfoTailer, "ams")
	t.Logf("sfo's tailer on ams: state %q, lag %d records, %d retries", rs.State, rs.LagRecords, rs.Retries)
	d := waitHeld(t, "sfo's writes in nyc while ams is down", replicaClients(t, g.Replicas["nyc"]), fromSFO)
	d2 := waitHeld(t, "nyc's writes in sfo while ams is down", replicaClients(t, g.Replicas["sfo"]), fromNYC)
	t.Logf("sfo and nyc hold each other's writes %v after the writes stopped, ams still down", (d + d2).Round(time.Millisecond))
	for _, tl := range []*pt.Tailer{sfoTailer, g.Tailers["nyc"]} {
		other := map[string]string{"sfo": "nyc", "nyc": "sfo"}[tl.Region]
		pt.WaitFor(t, 10*time.Second, tl.Region+"'s tailer to catch up with "+other+" while ams is down", func() bool {
			rs, ok := regionStatus(tl, other)
			return ok && rs.State == "ok" && rs.LagRecords == 0
		})
		if rs, ok := regionStatus(tl, "ams"); !ok || rs.LagRecords == 0 {
			t.Errorf("%s's tailer reports no lag on ams while it is down: %+v", tl.Region, rs)
		}
	}

	start := time.Now()
	ams.Start()
	pt.WaitFor(t, 20*time.Second, "ams's discovery to answer", func() bool { return pt.Healthy(ams.Addr()) })
	pt.StartAll(t, g.Replicas["ams"])
	g.StartTailer(t, "ams")
	all := unionOf(fromSFO, fromNYC)
	waitHeld(t, "sfo's and nyc's writes in ams", replicaClients(t, g.Replicas["ams"]), all)
	t.Logf("ams holds the %d writes %v after its restart began", len(all), time.Since(start).Round(time.Millisecond))
	t.Logf("all 9 replicas agree %v later", waitConverged(t, g).Round(time.Millisecond))
	waitTailersCaughtUp(t, g)
}

// TestTailerNoEchoAndWANBytes: only sfo writes, n keys of 256-byte values.
// Once every region holds them, the nyc and ams tailers, which read every
// record of their WALs, shipped none of them (no echo back to sfo, none to
// each other); sfo's tailer shipped each record once per region, its
// copies in the other two local WALs skipped; the REPL.APPLY bytes on the
// wire are at most 1.2 times the records' bytes in the WAL.
func TestTailerNoEchoAndWANBytes(t *testing.T) {
	g := pt.StartGeo(t, pt.GeoOptions{TailerEnv: geoTailerEnv})
	const n, batch = 2000, 100
	ctx := context.Background()
	clients := replicaClients(t, g.Replicas["sfo"])
	for i := 0; i < n; i += batch {
		p := clients[i/batch%len(clients)].Pipeline()
		for j := i; j < i+batch; j++ {
			p.Set(ctx, fmt.Sprintf("wan/%05d", j), fmt.Sprintf("%05d-%s", j, strings.Repeat(string(rune('a'+j%26)), 250)), 0)
		}
		cmds, err := p.Exec(ctx)
		if err != nil {
			t.Fatalf("pipelined SET of %d keys: %v", len(cmds), err)
		}
	}

	t.Logf("all 9 replicas agree %v after the writes", waitConverged(t, g).Round(time.Millisecond))
	waitTailersCaughtUp(t, g)
	sample := func(tl *pt.Tailer, name, region string) float64 {
		return pt.Metric(tl.AdminAddr(), fmt.Sprintf("%s{region=%q}", name, region))
	}
	for _, from := range []string{"nyc", "ams"} {
		for _, to := range g.Names {
			if to == from {
				continue
			}
			for _, name := range []string{"waltailer_shipped_records_total", "waltailer_sent_bytes_total"} {
				if got := sample(g.Tailers[from], name, to); got != 0 {
					t.Errorf("%s's tailer: %s{region=%q} = %v, want 0 (records of sfo sent on)", from, name, to, got)
				}
			}
		}
	}
	sfo := g.Tailers["sfo"]
	walRecords, walBytes := ownRecords(t, g, "sfo")
	t.Logf("sfo's WALs: %d records of sfo, %d bytes, %.1f bytes per record; %d bytes of value per record",
		walRecords, walBytes, float64(walBytes)/float64(walRecords), 256)
	for _, to := range []string{"nyc", "ams"} {
		shipped := sample(sfo, "waltailer_shipped_records_total", to)
		sent := sample(sfo, "waltailer_sent_bytes_total", to)
		walShipped := sample(sfo, "waltailer_shipped_wal_bytes_total", to)
		dups := sample(sfo, "waltailer_duplicates_skipped_total", to)
		ratio := sent / walShipped
		t.Logf("sfo → %s: %v records shipped (%v copies skipped), %.1f WAN bytes per record, %.1f WAL bytes per record: ratio %.3f",
			to, shipped, dups, sent/shipped, walShipped/shipped, ratio)
		if shipped < n || shipped > 1.05*n {
			t.Errorf("sfo → %s: %v records shipped, want %d to %d (copies in the other WALs skipped)", to, shipped, n, int(1.05*n))
		}
		if !(ratio <= 1.2) {
			t.Errorf("sfo → %s: %v bytes sent for %v bytes of WAL: ratio %.3f, want at most 1.2", to, sent, walShipped, ratio)
		}
	}
}

// geoWrite is a write of a test's writers, as the client saw it.
type geoWrite struct {
	key, value string // no value for a DEL
	del        bool
	region     string
	start, end time.Time
	acked      bool // OK (SET) or a count (DEL); else its outcome is unknown
}

// mixedLoad is one writer of TestTailerConvergence.
type mixedLoad struct {
	region     string
	writer     int
	seed       uint64
	sharedKeys int
	until      time.Time
}

// run writes until l.until through clients in turn: one write in four SETs
// a key of the writer's own, the others SET (80%) or DEL (20%) a shared
// key, half of them one of ten hot keys, so that regions write the same
// keys at the same time even at a few writes a second. Every value is
// unique. It returns every write, in order.
func (l mixedLoad) run(clients []replicaClient) []geoWrite {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(l.seed, uint64(l.writer)))
	var out []geoWrite
	for i := 0; time.Now().Before(l.until); i++ {
		w := geoWrite{region: l.region, value: fmt.Sprintf("%s/w%d/%d", l.region, l.writer, i)}
		switch {
		case i%4 == 3:
			w.key = fmt.Sprintf("own/%s/w%d/%d", l.region, l.writer, i)
		default:
			k := rng.IntN(l.sharedKeys)
			if rng.IntN(2) == 0 {
				k = rng.IntN(10)
			}
			w.key = fmt.Sprintf("shared/%03d", k)
			if rng.IntN(5) == 0 {
				w.value, w.del = "", true
			}
		}
		c := clients[(i+l.writer)%len(clients)]
		w.start = time.Now()
		var err error
		if w.del {
			err = c.Del(ctx, w.key).Err()
		} else {
			err = c.Set(ctx, w.key, w.value, 0).Err()
		}
		w.end, w.acked = time.Now(), err == nil
		out = append(out, w)
	}
	return out
}

// uniqueWrites SETs keys of its own through clients in turn until until,
// and returns the acknowledged ones with their values.
func uniqueWrites(clients []replicaClient, region string, writer int, until time.Time) map[string]string {
	ctx := context.Background()
	acked := make(map[string]string)
	for i := 0; time.Now().Before(until); i++ {
		k := fmt.Sprintf("outage/%s/w%d/%d", region, writer, i)
		if clients[i%len(clients)].Set(ctx, k, k, 0).Err() == nil {
			acked[k] = k
		}
	}
	return acked
}

// lastWriterCanWin says why entry e, the final state of a key in every
// replica, cannot be the last write of ws, the writes of the key, under
// last-writer-wins on HLC versions; nil if it can. The versions of all
// regions come from one machine's clock here, so a version's wall time is
// at least its write's start and at most its acknowledgement, and a write
// that began after another's acknowledgement has the higher version.
func lastWriterCanWin(e replicaEntry, ws []geoWrite) error {
	var lastStart int64 // of an acknowledged write
	for _, w := range ws {
		if w.acked {
			lastStart = max(lastStart, w.start.UnixMilli())
		}
	}
	if !e.present {
		if lastStart > 0 {
			return errors.New("no replica holds it, but writes of it were acknowledged")
		}
		return nil
	}
	v, err := hlc.ParseVersion([]byte(e.version))
	if err != nil {
		return err
	}
	wall := v.WallTime().UnixMilli()
	for _, w := range ws {
		switch {
		case w.del != e.deleted || w.value != e.value || w.region != v.Origin():
		case wall < w.start.UnixMilli()-clockSlackMillis:
		case w.acked && wall > w.end.UnixMilli()+clockSlackMillis:
		case w.acked && lastStart > w.end.UnixMilli()+clockSlackMillis:
		default:
			return nil
		}
	}
	return fmt.Errorf("every replica holds %v, which no write of it can be the last of: %s", e, describeWrites(ws))
}

func describeWrites(ws []geoWrite) string {
	var b strings.Builder
	for _, w := range ws {
		op := "SET " + w.value
		if w.del {
			op = "DEL"
		}
		fmt.Fprintf(&b, "\n\t%s %s from %s to %s acked %v", w.region, op,
			w.start.Format("15:04:05.000"), w.end.Format("15:04:05.000"), w.acked)
	}
	return b.String()
}

// replicaEntry is a replica's own copy of a key (VGET).
type replicaEntry struct {
	present bool // false: the replica holds nothing of the key
	deleted bool // a tombstone
	value   string
	version string
}

func (e replicaEntry) live() bool { return e.present && !e.deleted }

// origin is the region that wrote the entry (from its version).
func (e replicaEntry) origin() string {
	v, err := hlc.ParseVersion([]byte(e.version))
	if err != nil {
		return ""
	}
	return v.Origin()
}

func (e replicaEntry) String() string {
	switch {
	case !e.present:
		return "nothing"
	case e.deleted:
		return "a tombstone @" + e.version
	}
	return fmt.Sprintf("%q@%s", e.value, e.version)
}

// replicaClient is a go-redis client of one replica.
type replicaClient struct {
	*redis.Client
	name string // region/address
}

func replicaClients(t testing.TB, rs []*pt.Replica) []replicaClient {
	var out []replicaClient
	for _, r := range rs {
		out = append(out, replicaClient{rdb(t, r), r.Region + "/" + r.Addr()})
	}
	return out
}

// vgetAll returns c's own copies of keys, pipelined.
func vgetAll(c replicaClient, keys []string) (map[string]replicaEntry, error) {
	ctx := context.Background()
	out := make(map[string]replicaEntry, len(keys))
	for i := 0; i < len(keys); i += 500 {
		chunk := keys[i:min(i+500, len(keys))]
		p := c.Pipeline()
		cmds := make([]*redis.Cmd, len(chunk))
		for j, k := range chunk {
			cmds[j] = p.Do(ctx, "VGET", k)
		}
		p.Exec(ctx) // each command's error is read below
		for j, cmd := range cmds {
			reply, err := cmd.Slice()
			switch {
			case errors.Is(err, redis.Nil):
				out[chunk[j]] = replicaEntry{}
				continue
			case err != nil:
				return nil, fmt.Errorf("VGET %s from %s: %w", chunk[j], c.name, err)
			case len(reply) != 2:
				return nil, fmt.Errorf("VGET %s from %s: %#v", chunk[j], c.name, reply)
			}
			version, _ := reply[1].(string)
			value, live := reply[0].(string)
			out[chunk[j]] = replicaEntry{present: true, deleted: !live, value: value, version: version}
		}
	}
	return out, nil
}

// requireSameEverywhere reads every key from every client and fails t
// unless all hold the same entry of each; it returns those entries.
func requireSameEverywhere(t testing.TB, clients []replicaClient, byKey map[string][]geoWrite) map[string]replicaEntry {
	t.Helper()
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var ref map[string]replicaEntry
	for i, c := range clients {
		got, err := vgetAll(c, keys)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			ref = got
			continue
		}
		differ := 0
		for _, k := range keys {
			if got[k] != ref[k] {
				if differ++; differ <= 5 {
					t.Errorf("%s: %s holds %v, %s holds %v", k, clients[0].name, ref[k], c.name, got[k])
				}
			}
		}
		if differ > 0 {
			t.Fatalf("%s and %s differ on %d of %d keys although their digests agree", clients[0].name, c.name, differ, len(keys))
		}
	}
	return ref
}

// waitHeld waits until every client holds every key of want with its
// value, or a tombstone where the value is "" (its own copy, VGET), and
// returns how long that took.
func waitHeld(t testing.TB, what string, clients []replicaClient, want map[string]string) time.Duration {
	t.Helper()
	pending := make(map[string][]string) // by client: keys not seen yet
	for _, c := range clients {
		for k := range want {
			pending[c.name] = append(pending[c.name], k)
		}
	}
	var last string
	defer func() {
		if t.Failed() {
			t.Log(last) // WaitFor's Fatal runs the deferred calls
		}
	}()
	return pt.WaitFor(t, convergeTimeout, what, func() bool {
		done := true
		for _, c := range clients {
			got, err := vgetAll(c, pending[c.name])
			if err != nil {
				last = err.Error()
				done = false
				continue
			}
			pending[c.name] = slices.DeleteFunc(pending[c.name], func(k string) bool {
				e := got[k]
				return e.present && e.value == want[k] && e.deleted == (want[k] == "")
			})
			if n := len(pending[c.name]); n > 0 {
				last, done = fmt.Sprintf("%s misses %d keys, %s among them", c.name, n, pending[c.name][0]), false
			}
		}
		return done
	})
}

// waitConverged waits until sfo's discovery lists the nine replicas and
// `planet verify` finds their digests equal, and returns how long that
// took.
func waitConverged(t *testing.T, g *pt.Geo) time.Duration {
	t.Helper()
	start := time.Now()
	disc := g.Cluster.Regions["sfo"].Addr()
	want := len(g.AllReplicas())
	pt.WaitFor(t, convergeTimeout, "sfo's discovery to list every replica", func() bool {
		return len(pt.List(disc, "storage", "")) == want
	})
	left := max(convergeTimeout-time.Since(start), time.Second)
	r, stderr, code := verifyJSON(t, "--discovery", disc, "--wait", fmt.Sprintf("%ds", int(left.Seconds())))
	if code != 0 || !r.Agree || len(r.Replicas) != want {
		t.Fatalf("planet verify after %v: exit %d, %d replicas, %s\nstderr: %s\n%+v",
			time.Since(start), code, len(r.Replicas), r.Summary, stderr, r)
	}
	return time.Since(start)
}

// waitTailersCaughtUp waits until every tailer's cursors of every remote
// region are at the end of every local WAL (no writes are in flight),
// and checks that their status shows no lag.
func waitTailersCaughtUp(t *testing.T, g *pt.Geo) {
	t.Helper()
	for _, name := range g.Names {
		waitTailerCaughtUp(t, g, name, convergeTimeout)
	}
}

// waitTailerCaughtUp waits until region's tailer has every region's
// cursor at the end of every local WAL (read from the files themselves),
// with no lag and state ok.
func waitTailerCaughtUp(tb testing.TB, g *pt.Geo, name string, timeout time.Duration) {
	tb.Helper()
	var last string
	defer func() {
		if tb.Failed() {
			tb.Log(last)
		}
	}()
	tl := g.Tailers[name]
	pt.WaitFor(tb, timeout, name+"'s tailer to reach the end of its WALs for every region", func() bool {
		st, ok := tl.Status()
		if !ok || len(st.Regions) != len(g.Names)-1 {
			last = fmt.Sprintf("status %+v", st)
			return false
		}
		for _, rs := range st.Regions {
			for _, r := range g.Replicas[name] {
				wn := fmt.Sprintf("storage-%d", r.Port)
				end := walEnd(tb, filepath.Join(g.DataDirs[name], wn))
				if cur := rs.Cursors[wn]; cur != end.String() && (cur != "0:0" || end.Offset != 0) {
					last = fmt.Sprintf("cursor of %s for %s at %s, its end at %v", wn, rs.Region, rs.Cursors[wn], end)
					return false
				}
			}
			if rs.LagRecords != 0 || rs.State != "ok" {
				last = fmt.Sprintf("%s: state %q, lag %d", rs.Region, rs.State, rs.LagRecords)
				return false
			}
		}
		return true
	})
}

// walEnd reads the WAL in dir to the end of what was written.
func walEnd(t testing.TB, dir string) wal.Position {
	end, _, _ := scanWAL(t, dir, "")
	return end
}

// scanWAL reads the WAL in dir, from its oldest log on, and returns where
// what was written ends, and how many records of origin it holds and
// their size.
func scanWAL(t testing.TB, dir, origin string) (end wal.Position, records int, bytes int) {
	t.Helper()
	segs, err := wal.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		if s.Kind == wal.KindLog && (end.Generation == 0 || s.Gen < end.Generation) {
			end.Generation = s.Gen
		}
	}
	if end.Generation == 0 {
		return end, 0, 0
	}
	f, err := wal.OpenAt(dir, end)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rec wal.Record
	var buf []byte
	for {
		err := f.Next(&rec)
		if errors.Is(err, wal.ErrNoMore) {
			return f.Position(), records, bytes
		}
		if err != nil {
			t.Fatalf("reading the WAL in %s: %v", dir, err)
		}
		if rec.Origin == origin {
			buf = wal.AppendRecord(buf[:0], &rec)
			records, bytes = records+1, bytes+len(buf)
		}
	}
}

// ownRecords returns the records of region in its first replica's WAL,
// and their size.
func ownRecords(t testing.TB, g *pt.Geo, region string) (records, bytes int) {
	r := g.Replicas[region][0]
	_, records, bytes = scanWAL(t, filepath.Join(g.DataDirs[region], fmt.Sprintf("storage-%d", r.Port)), region)
	return records, bytes
}

// shippingStatus is what a tailer's status says of the shipping to a
// region.
type shippingStatus struct {
	State      string
	LagRecords uint64
	Retries    int
}

// regionStatus returns what tl's status says of the shipping to region;
// ok is false if tl does not answer or knows no such region.
func regionStatus(tl *pt.Tailer, region string) (shippingStatus, bool) {
	st, ok := tl.Status()
	for _, r := range st.Regions {
		if ok && r.Region == region {
			return shippingStatus{r.State, r.LagRecords, r.Retries}, true
		}
	}
	return shippingStatus{}, false
}

// unionOf returns the union of maps.
func unionOf(ms ...map[string]string) map[string]string {
	out := make(map[string]string)
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
