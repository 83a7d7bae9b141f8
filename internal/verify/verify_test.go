package verify

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"planet/discovery/api"
	"planet/internal/repl"
	"planet/storage/engine"
)

// TestDigestBucketsMatchEngine: verify sizes digests by repl.DigestBuckets
// without importing the engine; the engine must use the same number.
func TestDigestBucketsMatchEngine(t *testing.T) {
	if repl.DigestBuckets != engine.NumBuckets {
		t.Fatalf("repl.DigestBuckets = %d, engine.NumBuckets = %d", repl.DigestBuckets, engine.NumBuckets)
	}
}

// state is a replica that answered with a digest of len(d) buckets.
func state(region, addr string, keys int64, d ...uint64) replicaState {
	return replicaState{Target: Target{Region: region, Address: addr}, keys: keys, digest: d}
}

// down is a replica that did not answer.
func down(region, addr string) replicaState {
	return replicaState{Target: Target{Region: region, Address: addr}, err: errors.New("peer: unavailable: connection refused")}
}

func TestReference(t *testing.T) {
	for _, tc := range []struct {
		name   string
		states []replicaState
		want   []uint64
	}{
		{"none", nil, nil},
		{"all down", []replicaState{down("sfo", "a"), down("sfo", "b")}, nil},
		{"one", []replicaState{state("sfo", "a", 1, 7, 8)}, []uint64{7, 8}},
		{"all same", []replicaState{state("sfo", "a", 1, 1, 2), state("sfo", "b", 1, 1, 2)}, []uint64{1, 2}},
		{"majority last", []replicaState{state("sfo", "a", 1, 9, 9), state("sfo", "b", 1, 1, 2), state("sfo", "c", 1, 1, 2)}, []uint64{1, 2}},
		{"tie: the first replica's", []replicaState{state("sfo", "a", 1, 9, 9), state("sfo", "b", 1, 1, 2)}, []uint64{9, 9}},
		{"down ones do not count", []replicaState{down("sfo", "a"), down("sfo", "b"), state("sfo", "c", 1, 3, 3)}, []uint64{3, 3}},
		{"across regions", []replicaState{
			state("ams", "a", 1, 5, 5), state("nyc", "b", 1, 6, 6), state("nyc", "c", 1, 6, 6), state("sfo", "d", 1, 5, 5), state("sfo", "e", 1, 5, 5),
		}, []uint64{5, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := reference(tc.states); !slices.Equal(got, tc.want) {
				t.Fatalf("reference = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDiffDigests(t *testing.T) {
	for _, tc := range []struct {
		d, ref []uint64
		want   []int
	}{
		{[]uint64{1, 2, 3}, []uint64{1, 2, 3}, nil},
		{[]uint64{1, 0, 3}, []uint64{1, 2, 4}, []int{1, 2}},
		{[]uint64{1}, []uint64{1, 2}, []int{1}},
		{nil, nil, nil},
	} {
		if got := diffDigests(tc.d, tc.ref); !slices.Equal(got, tc.want) {
			t.Errorf("diffDigests(%v, %v) = %v, want %v", tc.d, tc.ref, got, tc.want)
		}
	}
}

func TestCompare(t *testing.T) {
	r := compare([]replicaState{
		state("nyc", "n1", 3, 1, 2, 3, 4),
		down("nyc", "n2"),
		state("sfo", "s1", 3, 1, 2, 3, 4),
		state("sfo", "s2", 2, 1, 0, 3, 5),
		state("sfo", "s3", 3, 1, 2, 3, 4),
	})
	if r.Agree() {
		t.Fatal("Agree with a replica down and one differing")
	}
	if want := digestHash([]uint64{1, 2, 3, 4}); r.Reference != want {
		t.Errorf("Reference = %s, want %s", r.Reference, want)
	}
	if !slices.Equal(r.DifferingBuckets, []int{1, 3}) {
		t.Errorf("DifferingBuckets = %v, want [1 3]", r.DifferingBuckets)
	}
	agrees := []bool{true, false, true, false, true}
	for i, rep := range r.Replicas {
		if rep.Agrees != agrees[i] {
			t.Errorf("%s agrees = %v, want %v", rep.Address, rep.Agrees, agrees[i])
		}
	}
	if rep := r.Replicas[1]; rep.Error == "" || rep.Digest != "" || rep.Keys != 0 {
		t.Errorf("down replica = %+v", rep)
	}
	if rep := r.Replicas[3]; !slices.Equal(rep.DifferingBuckets, []int{1, 3}) || rep.Keys != 2 || rep.Digest == r.Reference {
		t.Errorf("differing replica = %+v", rep)
	}
	if got, want := r.Summary(), "2 of 5 replicas differ (2 buckets; 1 unreachable)"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
}

func TestDigestHash(t *testing.T) {
	a, b := digestHash(make([]uint64, repl.DigestBuckets)), digestHash(append(make([]uint64, repl.DigestBuckets-1), 1))
	if len(a) != 16 || a == b {
		t.Fatalf("digestHash: %q and %q", a, b)
	}
	if a != digestHash(make([]uint64, repl.DigestBuckets)) {
		t.Fatal("digestHash is not deterministic")
	}
}

func TestDiffBucket(t *testing.T) {
	listings := []bucketListing{
		{"a", map[string]string{"same": "1.0.x", "newer": "2.0.x", "onlya": "3.0.x"}},
		{"b", map[string]string{"same": "1.0.x", "newer": "1.0.x", "onlyb": "4.0.x"}},
		{"c", map[string]string{"same": "1.0.x", "newer": "2.0.x"}},
	}
	got := diffBucket(7, listings, 10)
	want := []Sample{
		{7, "newer", map[string]string{"a": "2.0.x", "b": "1.0.x", "c": "2.0.x"}},
		{7, "onlya", map[string]string{"a": "3.0.x", "b": Absent, "c": Absent}},
		{7, "onlyb", map[string]string{"a": Absent, "b": "4.0.x", "c": Absent}},
	}
	if !samplesEqual(got, want) {
		t.Fatalf("diffBucket = %+v\nwant %+v", got, want)
	}
	if got := diffBucket(7, listings, 1); !samplesEqual(got, want[:1]) {
		t.Fatalf("diffBucket limit 1 = %+v", got)
	}
	if got := diffBucket(7, listings[:1], 10); len(got) != 0 {
		t.Fatalf("one listing: %+v, want none", got)
	}
}

func samplesEqual(a, b []Sample) bool {
	return slices.EqualFunc(a, b, func(x, y Sample) bool {
		return x.Bucket == y.Bucket && x.Key == y.Key && maps.Equal(x.Versions, y.Versions)
	})
}

func TestSummary(t *testing.T) {
	ok := Replica{Region: "sfo", Address: "a", Digest: "d", Agrees: true}
	for _, tc := range []struct {
		r     Report
		agree bool
		want  string
	}{
		{Report{}, false, "no storage replicas registered"},
		{Report{Reference: "d", Replicas: []Replica{ok}}, true, "the only replica answered (digest d)"},
		{Report{Reference: "d", Replicas: []Replica{ok, ok, ok}}, true, "all 3 replicas agree (digest d)"},
		{Report{Reference: "d", Replicas: []Replica{ok, {Address: "b", DifferingBuckets: []int{4}}}, DifferingBuckets: []int{4}},
			false, "1 of 2 replicas differ (1 bucket)"},
		{Report{Replicas: []Replica{{Address: "a", Error: "down"}}}, false, "no replica answered (1 unreachable)"},
		{Report{Reference: "d", Replicas: []Replica{ok, {Address: "b", Error: "down"}}}, false, "1 of 2 replicas differ (1 unreachable)"},
	} {
		if got := tc.r.Summary(); got != tc.want {
			t.Errorf("Summary = %q, want %q", got, tc.want)
		}
		if got := tc.r.Agree(); got != tc.agree {
			t.Errorf("Agree = %v for %q", got, tc.want)
		}
	}
}

// report is a disagreeing report as the CLI would print it.
func report() Report {
	return Report{
		Reference: "00000000000000aa",
		Replicas: []Replica{
			{Region: "nyc", Address: "10.0.0.2:10600", Error: "peer: unavailable: connection refused"},
			{Region: "sfo", Address: "10.0.0.1:10600", Keys: 12, Digest: "00000000000000aa", Agrees: true},
			{Region: "sfo", Address: "10.0.0.1:10601", Keys: 13, Digest: "00000000000000bb", DifferingBuckets: []int{17, 900}},
		},
		DifferingBuckets: []int{17, 900},
		Samples: []Sample{
			{17, "user:1", map[string]string{"10.0.0.1:10600": Absent, "10.0.0.1:10601": "1763768229000.0.sfo-1"}},
			{900, "a key", map[string]string{"10.0.0.1:10600": "1763768229000.1.sfo-2", "10.0.0.1:10601": "1763768229000.0.sfo-1"}},
		},
	}
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	if err := report().WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := `REGION  REPLICA         KEYS  DIGEST            AGREES
nyc     10.0.0.2:10600  -     -                 no: peer: unavailable: connection refused
sfo     10.0.0.1:10600  12    00000000000000aa  yes
sfo     10.0.0.1:10601  13    00000000000000bb  no: 2 buckets differ

differing buckets (2): 17 900

BUCKET  KEY      REGION  REPLICA         VERSION
17      user:1   sfo     10.0.0.1:10600  absent
                 sfo     10.0.0.1:10601  1763768229000.0.sfo-1
900     "a key"  sfo     10.0.0.1:10600  1763768229000.1.sfo-2
                 sfo     10.0.0.1:10601  1763768229000.0.sfo-1
`
	if b.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestBucketList(t *testing.T) {
	var many []int
	for i := range maxTableBuckets + 5 {
		many = append(many, i)
	}
	if got := bucketList(many); !strings.HasSuffix(got, " 31 …") || !strings.HasPrefix(got, "0 1 2 ") {
		t.Fatalf("bucketList = %q", got)
	}
}

func TestDisplayKey(t *testing.T) {
	for key, want := range map[string]string{"user:1": "user:1", "a b": `"a b"`, "": `""`, "x\x00\n": `"x\x00\n"`, `q"`: `"q\""`} {
		if got := displayKey(key); got != want {
			t.Errorf("displayKey(%q) = %s, want %s", key, got, want)
		}
	}
}

func TestReportJSON(t *testing.T) {
	r := report()
	r.Replicas, r.Samples = r.Replicas[1:], r.Samples[:1]
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"agree":false,"summary":"1 of 2 replicas differ (2 buckets)","reference_digest":"00000000000000aa",` +
		`"replicas":[{"region":"sfo","address":"10.0.0.1:10600","keys":12,"digest":"00000000000000aa","agrees":true},` +
		`{"region":"sfo","address":"10.0.0.1:10601","keys":13,"digest":"00000000000000bb","agrees":false,"differing_buckets":[17,900]}],` +
		`"differing_buckets":[17,900],` +
		`"samples":[{"bucket":17,"key":"user:1","versions":{"10.0.0.1:10600":"absent","10.0.0.1:10601":"1763768229000.0.sfo-1"}}]}`
	if string(b) != want {
		t.Fatalf("JSON:\n%s\nwant:\n%s", b, want)
	}
	// A pointer encodes the same.
	if p, _ := json.Marshal(&r); string(p) != want {
		t.Fatalf("JSON of *Report:\n%s", p)
	}
}

// fakeReader serves replicas from memory: each key's digest bucket is a
// hash of the key, each bucket's hash the XOR of its entries' hashes.
type fakeReader struct {
	mu       sync.Mutex
	replicas map[string]*fakeReplica // by address
	closed   bool
}

type fakeReplica struct {
	entries map[string]string // version by key
	err     error             // every read fails with it
	// pending is applied to entries once the replica has been read lag
	// times: a replica that is catching up.
	pending map[string]string
	lag     int
	reads   int
}

func fakeBucket(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % repl.DigestBuckets)
}

func (f *fakeReader) replica(addr string) (*fakeReplica, error) {
	rep, ok := f.replicas[addr]
	switch {
	case !ok:
		return nil, errors.New("peer: unavailable: no such replica")
	case rep.err != nil:
		return nil, rep.err
	}
	return rep, nil
}

func (f *fakeReader) readState(_ context.Context, addr string) (int64, []uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rep, err := f.replica(addr)
	if err != nil {
		return 0, nil, err
	}
	if rep.reads++; rep.reads > rep.lag {
		maps.Copy(rep.entries, rep.pending)
	}
	d := make([]uint64, repl.DigestBuckets)
	for k, v := range rep.entries {
		h := fnv.New64a()
		h.Write([]byte(k + "@" + v))
		d[fakeBucket(k)] ^= h.Sum64()
	}
	return int64(len(rep.entries)), d, nil
}

func (f *fakeReader) readBucket(_ context.Context, addr string, bucket int) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rep, err := f.replica(addr)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string)
	for k, v := range rep.entries {
		if fakeBucket(k) == bucket {
			out[k] = v
		}
	}
	return out, nil
}

func (f *fakeReader) retain([]string) {}

func (f *fakeReader) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// fakeDiscovery lists fixed instances.
type fakeDiscovery []api.Instance

func (d fakeDiscovery) List(_ context.Context, name string) ([]api.Instance, error) {
	if name != ServiceName {
		return nil, errors.New("wrong service " + name)
	}
	return d, nil
}

// entries returns n keys "k0".."k(n-1)" at version v.
func entries(n int, v string) map[string]string {
	m := make(map[string]string)
	for i := range n {
		m["k"+string(rune('a'+i%26))+string(rune('0'+i/26))] = v
	}
	return m
}

func newFake(t *testing.T, cfg Config, f *fakeReader) *Verifier {
	t.Helper()
	v, err := newVerifier(cfg.withDefaults(), f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func TestCheckSamplesDivergedKeys(t *testing.T) {
	f := &fakeReader{replicas: map[string]*fakeReplica{
		"s1": {entries: entries(50, "1.0.sfo-1")},
		"s2": {entries: entries(50, "1.0.sfo-1")},
		"s3": {entries: entries(50, "1.0.sfo-1")},
		"n1": {err: errors.New("peer: unavailable: connection refused")},
	}}
	f.replicas["s3"].entries["extra"] = "2.0.sfo-3"
	f.replicas["s3"].entries["ka0"] = "3.0.sfo-3"
	disc := fakeDiscovery{
		{Name: "storage", Address: "s3", Region: "sfo"}, {Name: "storage", Address: "s1", Region: "sfo"},
		{Name: "storage", Address: "n1", Region: "nyc"}, {Name: "storage", Address: "s2", Region: "sfo"},
		{Name: "storage", Address: "s1", Region: "sfo"}, // listed twice
	}
	v := newFake(t, Config{Discovery: disc}, f)
	r, err := v.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, rep := range r.Replicas {
		addrs = append(addrs, rep.Address)
	}
	if !slices.Equal(addrs, []string{"n1", "s1", "s2", "s3"}) {
		t.Fatalf("replicas %v, want by region then address, each once", addrs)
	}
	if r.Agree() || r.Replicas[0].Error == "" || !r.Replicas[1].Agrees || !r.Replicas[2].Agrees || r.Replicas[3].Agrees {
		t.Fatalf("report %+v", r)
	}
	if r.Replicas[3].Keys != 51 {
		t.Errorf("s3 keys = %d, want 51", r.Replicas[3].Keys)
	}
	wantBuckets := []int{fakeBucket("extra"), fakeBucket("ka0")}
	slices.Sort(wantBuckets)
	wantBuckets = slices.Compact(wantBuckets)
	if !slices.Equal(r.DifferingBuckets, wantBuckets) {
		t.Fatalf("differing buckets %v, want %v", r.DifferingBuckets, wantBuckets)
	}
	want := map[string]map[string]string{
		"extra": {"s1": Absent, "s2": Absent, "s3": "2.0.sfo-3"},
		"ka0":   {"s1": "1.0.sfo-1", "s2": "1.0.sfo-1", "s3": "3.0.sfo-3"},
	}
	if len(r.Samples) != 2 {
		t.Fatalf("samples %+v, want 2", r.Samples)
	}
	for _, s := range r.Samples {
		if !maps.Equal(s.Versions, want[s.Key]) || s.Bucket != fakeBucket(s.Key) {
			t.Errorf("sample %+v, want bucket %d versions %v", s, fakeBucket(s.Key), want[s.Key])
		}
	}

	// Sample bounds the keys listed; negative lists none.
	v = newFake(t, Config{Discovery: disc, Sample: 1}, f)
	if r, _ := v.Check(context.Background()); len(r.Samples) != 1 {
		t.Errorf("Sample 1: %d samples", len(r.Samples))
	}
	v = newFake(t, Config{Discovery: disc, Sample: -1}, f)
	if r, _ := v.Check(context.Background()); len(r.Samples) != 0 {
		t.Errorf("Sample -1: %d samples", len(r.Samples))
	}
}

func TestWaitUntilConverged(t *testing.T) {
	f := &fakeReader{replicas: map[string]*fakeReplica{
		"a": {entries: entries(10, "1.0.sfo-1")},
		"b": {entries: entries(10, "1.0.sfo-1")},
		"c": {entries: entries(7, "1.0.sfo-1"), pending: entries(10, "1.0.sfo-1"), lag: 3},
	}}
	v := newFake(t, Config{Replicas: []Target{{"sfo", "a"}, {"sfo", "b"}, {"sfo", "c"}}, Interval: time.Millisecond}, f)
	var progress []string
	r, err := v.Wait(context.Background(), time.Minute, func(r *Report) { progress = append(progress, r.Summary()) })
	if err != nil {
		t.Fatal(err)
	}
	if !r.Agree() || len(r.Samples) != 0 || len(r.DifferingBuckets) != 0 {
		t.Fatalf("report %+v, want agreement", r)
	}
	if len(progress) != 3 || progress[0] != "1 of 3 replicas differ (3 buckets)" {
		t.Fatalf("progress %q, want 3 reports of 1 of 3 differing", progress)
	}
}

func TestWaitGivesUp(t *testing.T) {
	f := &fakeReader{replicas: map[string]*fakeReplica{
		"a": {entries: entries(3, "1.0.sfo-1")},
		"b": {entries: entries(2, "1.0.sfo-1")},
	}}
	// A clock that advances a second per reading: the deadline passes
	// after a few comparisons, whatever the machine's speed.
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
	v := newFake(t, Config{Replicas: []Target{{"sfo", "a"}, {"sfo", "b"}}, Interval: time.Millisecond, Now: clock}, f)
	calls := 0
	r, err := v.Wait(context.Background(), 5*time.Second, func(*Report) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if r.Agree() || len(r.Samples) != 1 || r.Samples[0].Versions["b"] != Absent {
		t.Fatalf("report %+v, want the last disagreement with its sample", r)
	}
	// The deadline is 6s after the start; comparisons end at 2s, 3s, ...:
	// the fifth finds it passed.
	if calls != 4 {
		t.Fatalf("progress called %d times, want 4", calls)
	}
}

func TestWaitCancelled(t *testing.T) {
	f := &fakeReader{replicas: map[string]*fakeReplica{"a": {entries: entries(1, "1.0.x")}, "b": {}}}
	v := newFake(t, Config{Replicas: []Target{{"sfo", "a"}, {"sfo", "b"}}, Interval: time.Millisecond}, f)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := v.Wait(ctx, time.Hour, func(*Report) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel: %v, want context.Canceled", err)
	}
}

func TestNoReplicas(t *testing.T) {
	v := newFake(t, Config{Discovery: fakeDiscovery{}}, &fakeReader{})
	r, err := v.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.Agree() || r.Summary() != "no storage replicas registered" {
		t.Fatalf("no replicas: agree %v, %q", r.Agree(), r.Summary())
	}
	if _, err := New(Config{}); !errors.Is(err, ErrNoSource) {
		t.Fatalf("New without a source: %v", err)
	}
}
