package quorum

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// expiryLog records the operations that expired, in order, with the time.
type expiryLog struct {
	now func() time.Duration

	mu      sync.Mutex
	expired []int
	at      []time.Duration
}

func (l *expiryLog) ids() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.expired...)
}

type testOp struct {
	id  int
	log *expiryLog
}

func (op *testOp) Expire() {
	op.log.mu.Lock()
	defer op.log.mu.Unlock()
	op.log.expired = append(op.log.expired, op.id)
	op.log.at = append(op.log.at, op.log.now())
}

// fakeDeadlines returns Deadlines of delay on a clock that the test sets
// with *now, and a log whose operations record that clock.
func fakeDeadlines(delay time.Duration) (*Deadlines, *time.Duration, *expiryLog) {
	d := NewDeadlines(delay)
	var now time.Duration
	d.now = func() time.Duration { return now }
	return d, &now, &expiryLog{now: d.now}
}

// TestDeadlines: the operations not dropped expire once, in order, at
// their deadline and no sooner; the dropped ones never do; the ring grows
// past its first size and is empty at the end.
func TestDeadlines(t *testing.T) {
	const delay = 50 * time.Millisecond
	d, now, log := fakeDeadlines(delay)
	const n = 1000
	seqs := make([]uint64, n)
	for i := range n {
		*now = time.Duration(i) * time.Microsecond
		d.Add(&testOp{id: i, log: log}, &seqs[i])
	}
	if len(d.ring) < n {
		t.Fatalf("ring of %d slots for %d operations", len(d.ring), n)
	}
	for i := 0; i < n; i += 2 {
		d.Drop(seqs[i])
	}

	var buf []Expirer
	*now = delay - time.Nanosecond
	buf, next := d.expire(*now, buf)
	if got := log.ids(); len(got) != 0 || next != delay+time.Microsecond {
		t.Fatalf("before the first deadline: expired %v, next deadline %v", got, next)
	}
	// Halfway: the deadlines up to operation 499 have passed.
	*now = delay + 499*time.Microsecond
	buf, next = d.expire(*now, buf[:0])
	if got := log.ids(); len(got) != 250 || next != delay+501*time.Microsecond {
		t.Fatalf("halfway: %d expired, next deadline %v", len(got), next)
	}
	*now = time.Hour
	_, next = d.expire(*now, buf[:0])
	if next != -1 {
		t.Errorf("next deadline %v with none left", next)
	}

	got := log.ids()
	if len(got) != n/2 {
		t.Fatalf("%d expired, want %d", len(got), n/2)
	}
	for i, id := range got {
		if id != 2*i+1 {
			t.Fatalf("expired #%d is operation %d, want %d", i, id, 2*i+1)
		}
		if at := log.at[i]; at < time.Duration(id)*time.Microsecond+delay {
			t.Fatalf("operation %d expired at %v, before its deadline", id, at)
		}
	}
	// Dropping an operation that expired, or seq 0, changes nothing.
	d.Drop(seqs[1])
	d.Drop(0)
	if d.head != d.tail {
		t.Errorf("ring holds %d slots after every deadline passed", d.tail-d.head)
	}
}

// TestDeadlinesDropZero: seq 0 is never an operation's, so Drop(0) from an
// operation that was never added cannot drop another one.
func TestDeadlinesDropZero(t *testing.T) {
	d, now, log := fakeDeadlines(time.Second)
	var seq uint64
	d.Add(&testOp{id: 7, log: log}, &seq)
	if seq == 0 {
		t.Fatal("Add numbered an operation 0")
	}
	d.Drop(0)
	*now = time.Second
	d.expire(*now, nil)
	if got := log.ids(); len(got) != 1 {
		t.Errorf("expired %v, want [7]", got)
	}
}

// TestDeadlinesRun runs Run on a fake clock (testing/synctest: the timers
// are real, the time is not, and nothing sleeps): an operation added to an
// empty ring, long after the last one, still expires at its deadline (Run
// wakes up for it); a dropped one does not; Run returns when its context
// ends.
func TestDeadlinesRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay = 10 * time.Millisecond
		d := NewDeadlines(delay)
		log := &expiryLog{now: d.now}
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		wg.Go(func() { d.Run(ctx) })
		defer wg.Wait()
		defer cancel()

		for round := range 3 {
			time.Sleep(time.Minute) // idle
			var seq uint64
			d.Add(&testOp{id: -1, log: log}, &seq)
			d.Drop(seq)
			d.Add(&testOp{id: round, log: log}, nil)
			time.Sleep(delay - time.Nanosecond)
			synctest.Wait()
			if got := log.ids(); len(got) != round {
				t.Fatalf("round %d: expired %v before the deadline", round, got)
			}
			time.Sleep(time.Nanosecond)
			synctest.Wait()
			if got := log.ids(); len(got) != round+1 || got[round] != round {
				t.Fatalf("round %d: expired %v at the deadline", round, got)
			}
		}
	})
}

// BenchmarkDeadlines: an operation that finishes before its deadline,
// as most do.
func BenchmarkDeadlines(b *testing.B) {
	b.ReportAllocs()
	d := NewDeadlines(time.Hour)
	op := &testOp{}
	var buf []Expirer
	var seq uint64
	for i := 0; b.Loop(); i++ {
		d.Add(op, &seq)
		d.Drop(seq)
		if i%64 == 63 {
			buf, _ = d.expire(0, buf[:0]) // as Run does: clears the dropped
		}
	}
}
