package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"planet/storage/wal/errorfs"
)

// TestFailedWALIOIsNeverAcknowledged fails the i-th WAL write or fsync
// (whole or torn; a failed fsync that keeps or loses the writes since the
// last one) under concurrent writers: no write whose record did not
// reach the disk gets an OK, the engine refuses every write after the
// failure, and reopening recovers every acknowledged write.
func TestFailedWALIOIsNeverAcknowledged(t *testing.T) {
	for _, tc := range []struct {
		op   errorfs.Op
		torn bool // a torn write, or a sync that loses the unsynced writes
	}{{errorfs.OpWrite, false}, {errorfs.OpWrite, true}, {errorfs.OpSync, false}, {errorfs.OpSync, true}} {
		for _, index := range []int{0, 1, 3, 7, 15} {
			name := fmt.Sprintf("%v-%d", tc.op, index)
			if tc.torn {
				name = "torn-" + name
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				efs := errorfs.New(nil)
				e, err := Open(Config{Dir: dir, FS: efs})
				if err != nil {
					t.Fatal(err)
				}
				efs.Inject(errorfs.Fault{Op: tc.op, Index: index, Torn: tc.torn, Lose: tc.torn})
				acked, failedSeen := writeConcurrently(t, e, 4, 40)
				if efs.Count(tc.op) > index && !failedSeen {
					t.Fatalf("the %s #%d failed, yet every write got OK", tc.op, index)
				}
				if failedSeen {
					if e.Err() == nil {
						t.Fatal("a write failed but the engine reports no error")
					}
					r := e.Apply(context.Background(), Mutation{Key: []byte("after"), Value: []byte("x"), Version: ver(1e6, "sfo-1"), Origin: "sfo"})
					if r.Err == nil {
						t.Fatal("a write after the failure got OK")
					}
				}
				e.Close()
				e2 := openTest(t, Config{Dir: dir})
				for k, v := range acked {
					want(t, e2, k, v)
				}
				t.Logf("%d writes acknowledged before the fault, all recovered", len(acked))
			})
		}
	}
}

// writeConcurrently applies writers×n puts of distinct keys and returns the
// acknowledged ones and whether any failed.
func writeConcurrently(t *testing.T, e *Engine, writers, n int) (map[string]string, bool) {
	t.Helper()
	var mu sync.Mutex
	acked := make(map[string]string)
	failed := false
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range n {
				k, v := fmt.Sprintf("k%d-%d", w, i), fmt.Sprintf("v%d-%d", w, i)
				r := e.Apply(context.Background(), Mutation{Key: []byte(k), Value: []byte(v),
					Version: ver(uint64(w*n+i+1), "sfo-1"), Origin: "sfo"})
				mu.Lock()
				if r.Err == nil {
					acked[k] = v
				} else {
					failed = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return acked, failed
}
