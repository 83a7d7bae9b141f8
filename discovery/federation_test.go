package discovery

import (
	"fmt"
	"math/rand"
	"testing"
	"time"
)

func put(name, addr string, version uint64) remoteEntry {
	return remoteEntry{Name: name, Address: addr, TTL: time.Minute, Version: version, Confirmed: t0}
}

func TestFederationMergeRules(t *testing.T) {
	type step func(f *federation)
	putStep := func(addr string, v uint64) step {
		return func(f *federation) { f.applyPut("nyc", put("web", addr, v)) }
	}
	delStep := func(addr string, v uint64) step {
		return func(f *federation) { f.applyDelete("nyc", "web", addr, v, t0) }
	}
	snapStep := func(v uint64, addrs ...string) step {
		return func(f *federation) {
			var es []remoteEntry
			for _, a := range addrs {
				es = append(es, put("web", a, 1))
			}
			f.applySnapshot("nyc", v, es)
		}
	}
	for _, tc := range []struct {
		name  string
		steps []step
		want  []string
	}{
		{"put", []step{putStep("a:1", 1)}, []string{"a:1"}},
		{"delete after put", []step{putStep("a:1", 1), delStep("a:1", 2)}, nil},
		{"late put after delete", []step{delStep("a:1", 2), putStep("a:1", 1)}, nil},
		{"re-register after delete", []step{putStep("a:1", 1), delStep("a:1", 2), putStep("a:1", 3)}, []string{"a:1"}},
		{"old delete after re-register", []step{putStep("a:1", 3), delStep("a:1", 2)}, []string{"a:1"}},
		{"snapshot drops what it lacks", []step{putStep("a:1", 1), putStep("b:1", 1), snapStep(5, "a:1")}, []string{"a:1"}},
		{"snapshot keeps newer deltas", []step{putStep("b:1", 9), snapStep(5, "a:1")}, []string{"a:1", "b:1"}},
		{"put covered by snapshot is stale", []step{snapStep(5), putStep("a:1", 4)}, nil},
		{"old snapshot ignored", []step{snapStep(5, "a:1"), snapStep(3, "b:1")}, []string{"a:1"}},
		{"tombstone beats older snapshot entry", []step{delStep("a:1", 6), snapStep(6)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFederation(time.Minute)
			for _, s := range tc.steps {
				s(f)
			}
			var got []string
			for _, ri := range f.list("web") {
				got = append(got, ri.entry.Address)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("entries = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestFederationConverges checks the merge rules against a naive model: an
// origin registry makes random changes, and whatever order its deltas and
// snapshots arrive in, duplicated or not, the view ends up equal to the
// origin's final state.
func TestFederationConverges(t *testing.T) {
	for seed := int64(0); seed < 300; seed++ {
		rng := rand.New(rand.NewSource(seed))
		origin := map[string]uint64{} // address -> version of live entries
		var msgs []func(f *federation)
		var version uint64
		snapshot := func() func(f *federation) {
			v := version
			var es []remoteEntry
			for a, ev := range origin {
				es = append(es, put("web", a, ev))
			}
			return func(f *federation) { f.applySnapshot("nyc", v, es) }
		}
		for i := 0; i < 30; i++ {
			version++
			addr := fmt.Sprintf("10.0.0.2:%d", rng.Intn(5))
			v := version
			if _, live := origin[addr]; live && rng.Intn(2) == 0 {
				delete(origin, addr)
				msgs = append(msgs, func(f *federation) { f.applyDelete("nyc", "web", addr, v, t0) })
			} else if !live {
				origin[addr] = v
				msgs = append(msgs, func(f *federation) { f.applyPut("nyc", put("web", addr, v)) })
			}
			if rng.Intn(6) == 0 {
				msgs = append(msgs, snapshot())
			}
		}
		if seed%2 == 0 {
			msgs = append(msgs, snapshot()) // odd seeds: deltas alone must suffice
		}
		for i := len(msgs) / 3; i > 0; i-- {
			msgs = append(msgs, msgs[rng.Intn(len(msgs))]) // duplicates
		}
		rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })

		f := newFederation(time.Minute)
		for _, m := range msgs {
			m(f)
		}
		got := map[string]uint64{}
		for _, ri := range f.list("web") {
			got[ri.entry.Address] = ri.entry.Version
		}
		if fmt.Sprint(got) != fmt.Sprint(origin) {
			t.Fatalf("seed %d: view %v, origin %v", seed, got, origin)
		}
	}
}

func TestFederationDigestAndExpiry(t *testing.T) {
	f := newFederation(15 * time.Second)
	f.applyPut("nyc", put("web", "a:1", 1))
	e := put("web", "b:1", 2)
	e.TTL = 30 * time.Second
	f.applyPut("nyc", e)

	count, hash := f.digest("nyc")
	want := entryHash("web", "a:1", 1) ^ entryHash("web", "b:1", 2)
	if count != 2 || hash != want {
		t.Fatalf("digest = %d,%x want 2,%x", count, hash, want)
	}
	// a:1 has a 1 minute TTL; b:1 30s; both confirmed at t0.
	if n := f.expire(t0.Add(31*time.Second), time.Minute); n != 1 {
		t.Fatalf("expired %d, want 1 (b:1)", n)
	}
	f.confirm("nyc", t0.Add(50*time.Second))
	if n := f.expire(t0.Add(100*time.Second), time.Minute); n != 0 {
		t.Fatalf("confirmed entry expired")
	}
	if n := f.dropRegion("nyc"); n != 1 {
		t.Fatalf("dropRegion removed %d, want 1", n)
	}
	if len(f.list("web")) != 0 {
		t.Fatal("entries left after dropRegion")
	}
}
