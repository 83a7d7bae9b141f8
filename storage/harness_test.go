package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	pt "planet/internal/planettest"
	"planet/storage"
	"planet/storage/storagetest"
)

// redisClient is a go-redis client of replica i, as users connect,
// closed with the test (before the region stops).
func redisClient(t testing.TB, r *storagetest.Region, i int) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr(i), MaxRetries: -1, DialTimeout: 2 * time.Second,
		ReadTimeout: 5 * time.Second, PoolSize: 4})
	t.Cleanup(func() { c.Close() })
	return c
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// withConsistency is a storagetest option.
func withConsistency(c storage.Consistency) func(*storage.Config) {
	return func(cfg *storage.Config) { cfg.Consistency = c }
}

// withQuorums is a storagetest option.
func withQuorums(w, r int) func(*storage.Config) {
	return func(cfg *storage.Config) { cfg.W, cfg.R = w, r }
}

// eachConsistency runs f as a subtest per consistency setting.
func eachConsistency(t *testing.T, f func(t *testing.T, c storage.Consistency)) {
	for _, c := range []storage.Consistency{storage.Linearizable, storage.Quorum} {
		t.Run(c.String(), func(t *testing.T) { f(t, c) })
	}
}

// TestRestartedReplicaKnowsItsPeers: a replica restarted on its port and
// data directory has its data, and knows the region's replicas before it
// takes clients (no NOQUORUM for its first second).
func TestRestartedReplicaKnowsItsPeers(t *testing.T) {
	r := storagetest.NewRegion(t, 3)
	ctx := context.Background()
	mustOK(t, redisClient(t, r, 0).Set(ctx, "k", "v", 0).Err())
	r.WaitConverged()
	before := r.VGet(1, "k")
	addr := r.Addr(1)

	r.Restart(1)
	if r.Addr(1) != addr {
		t.Fatalf("restarted on %s, was %s", r.Addr(1), addr)
	}
	if peers, _ := r.Peers(1); len(peers) != 2 {
		t.Fatalf("restarted replica's peers: %v, want the two others at once", peers)
	}
	if got := r.VGet(1, "k"); got != before {
		t.Fatalf("after restart the replica holds %+v, had %+v", got, before)
	}
	mustOK(t, redisClient(t, r, 1).Set(ctx, "k2", "v2", 0).Err())
}

// TestDiscoveryOutageKeepsPeers: while discovery cannot be reached the
// replicas keep the last known set, and quorums go on.
func TestDiscoveryOutageKeepsPeers(t *testing.T) {
	r := storagetest.NewRegion(t, 3)
	d := r.Discovery()
	d.Fail(errors.New("discovery unreachable"))
	lists := d.Lists()
	pt.WaitFor(t, storagetest.WaitTimeout, "every replica to refresh its peers twice", func() bool {
		return d.Lists() >= lists+2*r.Len()
	})
	for i := range r.Len() {
		if peers, _ := r.Peers(i); len(peers) != 2 {
			t.Fatalf("replica %d peers during a discovery outage: %v", i, peers)
		}
	}
	mustOK(t, redisClient(t, r, 0).Set(context.Background(), "k", "v", 0).Err())
	d.Fail(nil)
}

// TestHiddenReplica: a replica that discovery stops listing drops out of
// its peers' quorums and comes back when listed again.
func TestHiddenReplica(t *testing.T) {
	r := storagetest.NewRegion(t, 3)
	r.Discovery().Hide(r.Addr(2))
	r.WaitPeers(0, 1)
	r.WaitPeers(1, 1)
	if peers, _ := r.Peers(2); len(peers) != 2 {
		t.Fatalf("the hidden replica's own peers: %v, want both others", peers)
	}
	r.Discovery().Show(r.Addr(2))
	r.WaitDiscovered()
}
