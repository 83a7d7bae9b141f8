package storage_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"planet/storage"
	"planet/storage/storagetest"
)

// TestQuorum: with replicas down (stopped, but still listed by discovery,
// as crashed ones are until their TTL expires), a SET and a GET through
// replica 0 succeed or fail with NOQUORUM as W and R say, in both
// consistency modes, and the failures are counted.
//
// With Linearizable consistency and 2W <= N a write first queries N-W+1
// replicas (ABD's query phase; see the package doc): W=1 needs all three.
func TestQuorum(t *testing.T) {
	const (
		ok        = ""
		write1of2 = "NOQUORUM write: 1 of 2 required replicas acknowledged (3 known)"
		write2of3 = "NOQUORUM write: 2 of 3 required replicas acknowledged (3 known)"
		write1of3 = "NOQUORUM write: 1 of 3 required replicas acknowledged (3 known)"
		read1of2  = "NOQUORUM read: 1 of 2 required replicas answered (3 known)"
		read2of3  = "NOQUORUM read: 2 of 3 required replicas answered (3 known)"
		read1of3  = "NOQUORUM read: 1 of 3 required replicas answered (3 known)"
	)
	// step: the outcome of SET and GET with down replicas stopped.
	type step struct {
		down            int
		set, get        string // error reply, or ok
		linearizableSet string // set with Linearizable consistency, if different
	}
	for _, tc := range []struct {
		w, r  int
		steps []step
	}{
		{2, 2, []step{{0, ok, ok, ""}, {1, ok, ok, ""}, {2, write1of2, read1of2, ""}}},
		{3, 1, []step{{0, ok, ok, ""}, {1, write2of3, ok, ""}, {2, write1of3, ok, ""}}},
		{1, 3, []step{{0, ok, ok, ""}, {1, ok, read2of3, write2of3}, {2, ok, read1of3, write1of3}}},
	} {
		t.Run(fmt.Sprintf("W=%d R=%d", tc.w, tc.r), func(t *testing.T) {
			eachConsistency(t, func(t *testing.T, c storage.Consistency) {
				r := storagetest.NewRegion(t, 3, withQuorums(tc.w, tc.r), withConsistency(c))
				ctx := context.Background()
				a := redisClient(t, r, 0)
				mustOK(t, a.Set(ctx, "before", "v", 0).Err())
				var writeFailures, readFailures float64
				for _, s := range tc.steps {
					for i := 3 - s.down; i < 3; i++ {
						if r.Running(i) {
							r.StopListed(i)
						}
					}
					want := s.set
					if c == storage.Linearizable && s.linearizableSet != "" {
						want = s.linearizableSet
					}
					key := fmt.Sprint("k", s.down)
					checkReply(t, fmt.Sprintf("SET with %d down", s.down), a.Set(ctx, key, "v", 0).Err(), want)
					checkReply(t, fmt.Sprintf("GET with %d down", s.down), a.Get(ctx, "before").Err(), s.get)
					writeFailures += float64(boolInt(want != ok))
					readFailures += float64(boolInt(s.get != ok))
				}
				if got := r.Metric(0, `storage_quorum_failures_total{op="write"}`); got != writeFailures {
					t.Errorf("write quorum failures counted: %v, want %v", got, writeFailures)
				}
				if got := r.Metric(0, `storage_quorum_failures_total{op="read"}`); got != readFailures {
					t.Errorf("read quorum failures counted: %v, want %v", got, readFailures)
				}
			})
		})
	}
}

// checkReply fails t unless err is nil (want "") or an error reply of
// exactly want.
func checkReply(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("%s: %v, want success", what, err)
	case want != "" && (err == nil || err == redis.Nil || err.Error() != want):
		t.Fatalf("%s: %v, want %q", what, err, want)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestQuorumFailedWriteIsKept: a write that lost its quorum is kept by the
// replicas that applied it (its outcome is unknown, as in Cassandra), so
// an R=1 read of the coordinator returns it.
func TestQuorumFailedWriteIsKept(t *testing.T) {
	r := storagetest.NewRegion(t, 3, withQuorums(3, 1))
	ctx := context.Background()
	a := redisClient(t, r, 0)
	mustOK(t, a.Set(ctx, "k", "old", 0).Err())
	r.StopListed(1)
	if err := a.Set(ctx, "k", "new", 0).Err(); err == nil {
		t.Fatal("W=3 with a replica down: OK")
	}
	if got, err := a.Get(ctx, "k").Result(); err != nil || got != "new" {
		t.Fatalf("R=1 GET of the coordinator: %q, %v; want the unacknowledged write", got, err)
	}
	if e := r.VGet(2, "k"); e.Value != "new" {
		t.Fatalf("the replica that acknowledged holds %+v", e)
	}
}

// TestLoneReplicaCountsItself: a replica alone with W=2 writes its own copy
// and says so: one of two acknowledged, one known.
func TestLoneReplicaCountsItself(t *testing.T) {
	eachConsistency(t, func(t *testing.T, c storage.Consistency) {
		r := storagetest.NewRegion(t, 1, withConsistency(c))
		err := redisClient(t, r, 0).Set(context.Background(), "k", "v", 0).Err()
		checkReply(t, "SET on a lone replica with W=2", err, "NOQUORUM write: 1 of 2 required replicas acknowledged (1 known)")
	})
}

// TestQuorumFollowsDiscovery: replicas that stop cleanly deregister, and
// the region's quorums count only the replicas discovery lists: one left
// of three, with W=2, is a lone replica.
func TestQuorumFollowsDiscovery(t *testing.T) {
	r := storagetest.NewRegion(t, 3)
	ctx := context.Background()
	a := redisClient(t, r, 0)
	r.Stop(2)
	r.WaitPeers(0, 1)
	mustOK(t, a.Set(ctx, "k", "v", 0).Err())
	r.Stop(1)
	r.WaitPeers(0, 0)
	checkReply(t, "SET with the others stopped", a.Set(ctx, "k", "w", 0).Err(),
		"NOQUORUM write: 1 of 2 required replicas acknowledged (1 known)")
	checkReply(t, "GET with the others stopped", a.Get(ctx, "k").Err(),
		"NOQUORUM read: 1 of 2 required replicas answered (1 known)")
	r.Start(1)
	r.WaitDiscovered()
	mustOK(t, a.Set(ctx, "k", "x", 0).Err())
}
