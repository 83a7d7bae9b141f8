package storage

import (
	"context"
	"sync"
	"testing"
	"time"

	"planet/internal/planettest"
)

// expiryLog records the operations that expired, in order.
type expiryLog struct {
	mu      sync.Mutex
	expired []int
	at      []time.Time
}

type testExpirer struct {
	id  int
	log *expiryLog
}

func (e *testExpirer) expire() {
	e.log.mu.Lock()
	defer e.log.mu.Unlock()
	e.log.expired = append(e.log.expired, e.id)
	e.log.at = append(e.log.at, time.Now())
}

// startDeadlines returns deadlines of delay, run until the test ends.
func startDeadlines(t *testing.T, delay time.Duration) *deadlines {
	d := newDeadlines(delay)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { d.run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return d
}

// TestDeadlines: the operations not dropped expire once, in order, no
// sooner than the delay; the dropped ones never do; the ring grows past
// its first size.
func TestDeadlines(t *testing.T) {
	const delay = 50 * time.Millisecond
	d := startDeadlines(t, delay)

	log := &expiryLog{}
	const n = 1000
	seqs := make([]uint64, n)
	start := time.Now()
	for i := range n {
		d.add(&testExpirer{id: i, log: log}, &seqs[i])
	}
	for i := 0; i < n; i += 2 {
		d.drop(seqs[i])
	}
	planettest.WaitFor(t, 5*time.Second, "the odd operations to expire", func() bool {
		log.mu.Lock()
		defer log.mu.Unlock()
		return len(log.expired) >= n/2
	})
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.expired) != n/2 {
		t.Fatalf("%d expired, want %d", len(log.expired), n/2)
	}
	for i, id := range log.expired {
		if id != 2*i+1 {
			t.Fatalf("expired #%d is operation %d, want %d", i, id, 2*i+1)
		}
		if early := log.at[i].Sub(start); early < delay {
			t.Fatalf("operation %d expired after %v, before its delay %v", id, early, delay)
		}
	}
	// Dropping an operation that already expired changes nothing.
	d.drop(seqs[1])
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.head != d.tail {
		t.Errorf("ring holds %d slots after every deadline passed", d.tail-d.head)
	}
}

// TestDeadlinesIdle: an operation added to an empty queue, long after the
// last one, still expires (run wakes up for it).
func TestDeadlinesIdle(t *testing.T) {
	d := startDeadlines(t, 10*time.Millisecond)
	log := &expiryLog{}
	for round := range 3 {
		d.add(&testExpirer{id: round, log: log}, nil)
		planettest.WaitFor(t, 5*time.Second, "the operation to expire", func() bool {
			log.mu.Lock()
			defer log.mu.Unlock()
			return len(log.expired) == round+1
		})
	}
}
