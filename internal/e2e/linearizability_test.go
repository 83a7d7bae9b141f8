package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"

	pt "planet/internal/planettest"
)

// The load of the linearizability check: linClients clients doing GET and
// SET (half each) on linKeys keys, each operation through a random replica.
const (
	linClients = 8
	linKeys    = 3
	// linHistory is how long a history runs at least; it also runs on
	// until linOpsAfterFault operations completed after the fault ended.
	linHistory       = 5 * time.Second
	linOpsAfterFault = 200
	// linMaxHistory bounds every client's loop, whatever happens.
	linMaxHistory = 30 * time.Second
	// linHold is how long a fault lasts (a replica down or paused).
	linHold = 1500 * time.Millisecond
	// linCheckTimeout bounds porcupine; running out of it fails the test.
	linCheckTimeout = 30 * time.Second
)

// TestStorageLinearizable: with W=2 R=2 of 3 replicas (the default),
// concurrent GETs and SETs of a few keys through random replicas form a
// linearizable history (checked by porcupine against per-key registers),
// without faults, with a replica SIGKILLed and restarted, and with a
// replica SIGSTOPped and resumed mid-history. On a violation the test saves
// porcupine's visualization under $PLANET_ARTIFACTS (or the temp dir) and
// reports its path.
func TestStorageLinearizable(t *testing.T) {
	var histories, operations, violations, unchecked int
	defer func() {
		t.Logf("%d histories, %d operations: %d not linearizable, %d unchecked (porcupine timed out)",
			histories, operations, violations, unchecked)
	}()
	for _, tc := range []struct {
		name  string
		fault func(t *testing.T, l *kvLoad, victim *pt.Replica)
	}{
		{"no-faults", nil},
		{"kill-restart", killAndRestart},
		{"pause", pauseAndResume},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rs := storageRegion(t, 3)
			seed := uint64(time.Now().UnixNano())
			l := startKVLoad(t, rs, seed)
			pt.WaitFor(t, 30*time.Second, "operations to flow", func() bool { return l.completed() >= 100 })
			if tc.fault != nil {
				tc.fault(t, l, rs[1])
			}
			after := l.completed()
			pt.WaitFor(t, linMaxHistory, fmt.Sprintf("a history of %v and %d operations after the fault", linHistory, linOpsAfterFault),
				func() bool { return time.Since(l.start) >= linHistory && l.completed() >= after+linOpsAfterFault })
			l.stop()
			ops, st := l.h.Close()
			chk, err := pt.CheckKV("planet-linearizability-"+tc.name, ops, l.h.Annotations(), linCheckTimeout)
			t.Logf("%s: 1 history of %v (seed %d): %v; result %s (checked in %v)",
				tc.name, time.Since(l.start).Round(time.Millisecond), seed, st, chk.Result, chk.Took.Round(time.Millisecond))
			histories, operations = histories+1, operations+len(ops)
			switch chk.Result {
			case porcupine.Illegal:
				violations++
			case porcupine.Unknown:
				unchecked++
			}
			requireLinearizable(t, tc.name, len(ops), chk, err)
		})
	}
}

func requireLinearizable(t *testing.T, name string, n int, chk pt.KVCheck, err error) {
	t.Helper()
	switch {
	case err != nil:
		t.Errorf("%s: history of %d operations is NOT linearizable (%v)", name, n, err)
	case chk.Result == porcupine.Illegal:
		t.Errorf("%s: history of %d operations is NOT linearizable; porcupine's visualization: %s", name, n, chk.Visualization)
	case chk.Result == porcupine.Unknown:
		t.Errorf("%s: the linearizability check of %d operations timed out after %v: not proven, so not a pass",
			name, n, linCheckTimeout)
	}
}

// killAndRestart SIGKILLs victim, keeps it down for linHold while the
// clients go on, and restarts it with the same ports and data.
func killAndRestart(t *testing.T, l *kvLoad, victim *pt.Replica) {
	t0 := l.h.Now()
	victim.Kill()
	holdFault()
	t1 := l.h.Now()
	victim.Start()
	pt.WaitPeers(t, victim, 2)
	l.h.Annotate("faults", "SIGKILL "+victim.Name, t0, t1)
	l.h.Annotate("faults", "restarted "+victim.Name, t1, l.h.Now())
}

// pauseAndResume SIGSTOPs victim for linHold while the clients go on.
func pauseAndResume(t *testing.T, l *kvLoad, victim *pt.Replica) {
	t0 := l.h.Now()
	victim.Signal(syscall.SIGSTOP)
	holdFault()
	victim.Signal(syscall.SIGCONT)
	l.h.Annotate("faults", "SIGSTOP "+victim.Name, t0, l.h.Now())
}

// kvLoad runs the clients of one history.
type kvLoad struct {
	h     *pt.KVHistory
	start time.Time
	keys  []string
	rdbs  []*redis.Client // one per replica

	done     atomic.Int64 // operations that got a reply
	quit     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// startKVLoad starts linClients clients over the replicas rs; they stop
// on l.stop, at the latest linMaxHistory from now (and with the test).
func startKVLoad(t *testing.T, rs []*pt.Replica, seed uint64) *kvLoad {
	l := &kvLoad{h: pt.NewKVHistory(), start: time.Now(), quit: make(chan struct{})}
	for i := range linKeys {
		l.keys = append(l.keys, fmt.Sprint("lin", i))
	}
	for _, r := range rs {
		// No retries: each operation of the history is one request. A dial
		// is tried once, so that a client does not stall on a dead replica.
		c := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1, DialerRetries: 1,
			DialTimeout: time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second,
			PoolSize: linClients})
		t.Cleanup(func() { c.Close() })
		l.rdbs = append(l.rdbs, c)
	}
	deadline := l.start.Add(linMaxHistory)
	for id := range linClients {
		l.wg.Add(1)
		go l.client(id, rand.New(rand.NewPCG(seed, uint64(id))), deadline)
	}
	t.Cleanup(l.stop)
	return l
}

// stop stops the clients and waits for them.
func (l *kvLoad) stop() {
	l.stopOnce.Do(func() { close(l.quit) })
	l.wg.Wait()
}

func (l *kvLoad) completed() int64 { return l.done.Load() }

// holdFault keeps a fault for linHold while the clients go on: a timed fault,
// not a wait for a condition.
func holdFault() {
	timer := time.NewTimer(linHold)
	defer timer.Stop()
	<-timer.C
}

func (l *kvLoad) client(id int, rng *rand.Rand, deadline time.Time) {
	defer l.wg.Done()
	ctx := context.Background()
	for i := 0; time.Now().Before(deadline); i++ {
		select {
		case <-l.quit:
			return
		default:
		}
		c := l.rdbs[rng.IntN(len(l.rdbs))]
		in := pt.KVInput{Key: l.keys[rng.IntN(len(l.keys))]}
		via := "via " + c.Options().Addr
		call := l.h.Now()
		if rng.IntN(2) == 0 {
			v, err := c.Get(ctx, in.Key).Result()
			switch {
			case err == redis.Nil:
				l.h.Add(id, in, pt.KVOutput{}, call, via)
			case err != nil:
				l.h.DropFailedGet()
				continue
			default:
				l.h.Add(id, in, pt.KVOutput{Value: v, Found: true}, call, via)
			}
		} else {
			in.Set, in.Value = true, fmt.Sprintf("c%d-%d", id, i)
			err := c.Set(ctx, in.Key, in.Value, 0).Err()
			switch {
			case err == nil:
				l.h.Add(id, in, pt.KVOutput{}, call, via)
			case neverSent(err):
				l.h.DropUnsentSet()
				continue
			default:
				l.h.AddUnknown(id, in, call, via+": "+err.Error())
				continue
			}
		}
		l.done.Add(1)
	}
}

// neverSent reports whether err means that the command never left the
// client: the connection could not be opened, so it cannot have taken
// effect.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// TestLinearizabilityModel checks the checker, without processes: legal
// histories pass, and a new/old inversion (the anomaly of issue 8) fails
// and leaves a visualization behind.
func TestLinearizabilityModel(t *testing.T) {
	set := func(client int, key, value string, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: pt.KVInput{Set: true, Key: key, Value: value},
			Output: pt.KVOutput{}, Call: call, Return: ret}
	}
	unknownSet := func(client int, key, value string, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: pt.KVInput{Set: true, Key: key, Value: value},
			Output: pt.KVOutput{Unknown: true}, Call: call, Return: ret}
	}
	get := func(client int, key, value string, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: pt.KVInput{Key: key},
			Output: pt.KVOutput{Value: value, Found: value != ""}, Call: call, Return: ret}
	}
	for _, tc := range []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"sequential", []porcupine.Operation{
			get(0, "k", "", 0, 1), set(0, "k", "a", 2, 3), get(1, "k", "a", 4, 5),
			set(1, "k", "b", 6, 7), get(0, "k", "b", 8, 9),
		}, porcupine.Ok},
		{"a read concurrent with a write may see either", []porcupine.Operation{
			set(0, "k", "a", 0, 1), set(0, "k", "b", 2, 10),
			get(1, "k", "a", 3, 4), get(2, "k", "b", 5, 6), get(1, "k", "b", 7, 8),
		}, porcupine.Ok},
		{"keys are independent registers", []porcupine.Operation{
			set(0, "k", "a", 0, 1), set(1, "j", "x", 0, 1), get(0, "j", "x", 2, 3), get(1, "k", "a", 2, 3), get(2, "i", "", 2, 3),
		}, porcupine.Ok},
		{"an unknown-outcome write may take effect late", []porcupine.Operation{
			set(0, "k", "a", 0, 1), unknownSet(1, "k", "b", 2, 100),
			get(2, "k", "a", 10, 11), get(2, "k", "b", 20, 21), get(0, "k", "b", 30, 31),
		}, porcupine.Ok},
		{"an unknown-outcome write may never take effect", []porcupine.Operation{
			set(0, "k", "a", 0, 1), unknownSet(1, "k", "b", 2, 100), get(2, "k", "a", 50, 51),
		}, porcupine.Ok},
		{"new/old inversion", []porcupine.Operation{
			set(0, "k", "old", 0, 1),
			set(1, "k", "new", 2, 20), // in flight
			get(2, "k", "new", 3, 4),  // sees it
			get(2, "k", "old", 5, 6),  // then a later read goes back
		}, porcupine.Illegal},
		{"new/old inversion around an unknown-outcome write", []porcupine.Operation{
			set(0, "k", "old", 0, 1), unknownSet(1, "k", "new", 2, 100),
			get(2, "k", "new", 3, 4), get(3, "k", "old", 5, 6),
		}, porcupine.Illegal},
		{"a stale read after a write returned", []porcupine.Operation{
			set(0, "k", "a", 0, 1), set(0, "k", "b", 2, 3), get(1, "k", "a", 4, 5),
		}, porcupine.Illegal},
		{"a read of a value never written", []porcupine.Operation{
			set(0, "k", "a", 0, 1), get(1, "k", "z", 2, 3),
		}, porcupine.Illegal},
		{"a read of nil after a write returned", []porcupine.Operation{
			set(0, "k", "a", 0, 1), get(1, "k", "", 2, 3),
		}, porcupine.Illegal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PLANET_ARTIFACTS", t.TempDir())
			chk, err := pt.CheckKV("model", tc.ops, nil, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if chk.Result != tc.want {
				t.Fatalf("porcupine says %s, want %s", chk.Result, tc.want)
			}
			if tc.want != porcupine.Illegal {
				return
			}
			if fi, err := os.Stat(chk.Visualization); err != nil || fi.Size() == 0 {
				t.Fatalf("no visualization of the violation at %q: %v", chk.Visualization, err)
			}
		})
	}
}
