package storage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	pt "planet/internal/planettest"
	"planet/storage"
	"planet/storage/storagetest"
)

// newerVersion is a version above every one the replicas minted so far,
// of a node of the region, as another coordinator would mint it.
func newerVersion() string {
	return fmt.Sprintf("%d.0.%s-1", time.Now().UnixMilli()+1000, storagetest.RegionName)
}

// TestReadRepair: replicas 0 and 1 hold a newer version than replica 2
// (written behind the quorum's back); a GET through replica 2 returns it
// and repairs replica 2. With Linearizable consistency the repair is the
// read's write-back, done before the reply: the stale replica holds the
// newer version as soon as the GET returns. With Quorum consistency it
// follows in the background.
func TestReadRepair(t *testing.T) {
	eachConsistency(t, func(t *testing.T, c storage.Consistency) {
		r := storagetest.NewRegion(t, 3, withConsistency(c))
		ctx := context.Background()
		mustOK(t, redisClient(t, r, 0).Set(ctx, "k", "old", 0).Err())
		r.WaitConverged()
		newer := newerVersion()
		r.MustDo(0, "REPL.PUT", "k", "new", newer)
		r.MustDo(1, "REPL.PUT", "k", "new", newer)

		if got, err := redisClient(t, r, 2).Get(ctx, "k").Result(); err != nil || got != "new" {
			t.Fatalf("GET via the stale replica: %q, %v", got, err)
		}
		if c == storage.Linearizable {
			if e := r.VGet(2, "k"); e.Version != newer || e.Value != "new" {
				t.Fatalf("right after the GET the stale replica holds %+v, want version %s", e, newer)
			}
		} else {
			pt.WaitFor(t, storagetest.WaitTimeout, "the stale replica to be repaired", func() bool {
				return r.VGet(2, "k").Version == newer
			})
		}
		if got := r.Metric(2, "storage_read_repairs_total"); got < 1 {
			t.Errorf("read repairs counted: %v", got)
		}
		wantWriteBacks := float64(boolInt(c == storage.Linearizable))
		if got := r.Metric(2, "storage_read_write_backs_total"); got != wantWriteBacks {
			t.Errorf("write-backs counted: %v, want %v", got, wantWriteBacks)
		}
		r.WaitConverged()
	})
}

// TestLinearizableReadWritesBack: a GET that finds the newest version on
// the coordinator alone replies only once W replicas hold it, so that no
// later read returns the older one; the write-back then reaches every
// replica.
func TestLinearizableReadWritesBack(t *testing.T) {
	r := storagetest.NewRegion(t, 3)
	ctx := context.Background()
	mustOK(t, redisClient(t, r, 0).Set(ctx, "k", "old", 0).Err())
	r.WaitConverged()
	newer := newerVersion()
	r.MustDo(0, "REPL.PUT", "k", "new", newer)

	if got, err := redisClient(t, r, 0).Get(ctx, "k").Result(); err != nil || got != "new" {
		t.Fatalf("GET via the up-to-date replica: %q, %v", got, err)
	}
	holders := 0
	for i := range r.Len() {
		if r.VGet(i, "k").Version == newer {
			holders++
		}
	}
	if holders < 2 {
		t.Fatalf("right after the GET %d replicas hold the version it returned, want W=2", holders)
	}
	for i := range r.Len() {
		if got, err := redisClient(t, r, i).Get(ctx, "k").Result(); err != nil || got != "new" {
			t.Fatalf("a later GET via replica %d: %q, %v", i, got, err)
		}
	}
	r.WaitConverged()
}

// TestHintedHandoff: writes that a stopped replica missed are hinted by
// their coordinator (one hint per key) and handed off once it is back,
// deletes included; anti-entropy is off, so the hints alone catch it up.
func TestHintedHandoff(t *testing.T) {
	r := storagetest.NewRegion(t, 3)
	ctx := context.Background()
	a := redisClient(t, r, 0)
	r.StopListed(2)
	const keys = 100
	pipe := a.Pipeline()
	for i := range keys {
		pipe.Set(ctx, fmt.Sprint("k", i), fmt.Sprint("v", i), 0)
	}
	_, err := pipe.Exec(ctx)
	mustOK(t, err)
	mustOK(t, a.Del(ctx, "k0").Err())
	// A write is acknowledged once W replicas hold it, maybe before the
	// stopped replica's failure (and its hint) is in.
	pt.WaitFor(t, storagetest.WaitTimeout, "one hint per key", func() bool {
		return r.Metric(0, "storage_hints_pending") == keys
	})

	r.Start(2)
	pt.WaitFor(t, storagetest.WaitTimeout, "the restarted replica to hold every key", func() bool {
		return r.DBSize(2) == keys-1
	})
	if e := r.VGet(2, "k0"); !e.Deleted {
		t.Fatalf("the delete did not reach the restarted replica: %+v", e)
	}
	if e := r.VGet(2, "k7"); e.Value != "v7" || e != r.VGet(0, "k7") {
		t.Fatalf("handed-off k7 is %+v, the coordinator's %+v", e, r.VGet(0, "k7"))
	}
	pt.WaitFor(t, storagetest.WaitTimeout, "the hints to drain", func() bool {
		return r.Metric(0, "storage_hints_pending") == 0
	})
	if got := r.Metric(0, "storage_hints_delivered_total"); got != keys {
		t.Errorf("hints delivered %v, want %d", got, keys)
	}
	r.WaitConverged()
}

// TestAntiEntropy: replicas converge, by digest comparison alone, on
// writes that neither quorums nor hints carried to them.
func TestAntiEntropy(t *testing.T) {
	const keys = 100
	aeEvery := func(cfg *storage.Config) { cfg.AntiEntropyInterval = 100 * time.Millisecond }

	// Writes that reach one replica only (REPL.MPUT is never
	// re-replicated), with no hint anywhere.
	t.Run("direct writes", func(t *testing.T) {
		r := storagetest.NewRegion(t, 3, aeEvery)
		base := time.Now().UnixMilli()
		args := []string{"REPL.MPUT"}
		for i := range keys {
			args = append(args, fmt.Sprint("ae", i), "v", fmt.Sprintf("%d.%d.%s-1", base, i, storagetest.RegionName))
		}
		r.MustDo(0, args...)
		waitEveryReplicaHolds(t, r, keys)
		// Each key reached replicas 1 and 2 by a pull or a push (or both,
		// when two rounds crossed); a repair is counted just after it is
		// applied.
		pt.WaitFor(t, storagetest.WaitTimeout, "the repairs to be counted", func() bool {
			var repaired float64
			for i := range r.Len() {
				repaired += r.Metric(i, `storage_anti_entropy_repairs_total{direction="pull"}`) +
					r.Metric(i, `storage_anti_entropy_repairs_total{direction="push"}`)
			}
			return repaired >= 2*keys
		})
	})

	// A replica that discovery does not list while the writes go on: no
	// coordinator knows it, so none stores a hint for it.
	t.Run("replica hidden from discovery", func(t *testing.T) {
		r := storagetest.NewRegion(t, 3, aeEvery)
		d := r.Discovery()
		d.Hide(r.Addr(2))
		r.WaitPeers(0, 1)
		r.WaitPeers(1, 1)
		ctx := context.Background()
		pipe := redisClient(t, r, 0).Pipeline()
		for i := range keys {
			pipe.Set(ctx, fmt.Sprint("ae", i), "v", 0)
		}
		_, err := pipe.Exec(ctx)
		mustOK(t, err)
		if got := r.Metric(0, "storage_hints_pending"); got != 0 {
			t.Fatalf("hints pending %v for a replica no coordinator knows", got)
		}
		d.Show(r.Addr(2))
		r.WaitDiscovered()
		waitEveryReplicaHolds(t, r, keys)
	})
}

// waitEveryReplicaHolds waits until each replica holds keys live keys and
// all hold the same digest (the same keys at the same versions).
func waitEveryReplicaHolds(t *testing.T, r *storagetest.Region, keys int64) {
	t.Helper()
	for i := range r.Len() {
		pt.WaitFor(t, storagetest.WaitTimeout, fmt.Sprintf("replica %d to hold %d keys", i, keys), func() bool {
			return r.DBSize(i) == keys
		})
	}
	r.WaitConverged()
}
