package storage

import (
	"context"
	"sync"
	"time"
)

// expirer is a quorum operation that must hear of its deadline.
type expirer interface{ expire() }

// deadlines calls expire on the operations still open at their deadline,
// delay after they were added. Every operation waits the same delay, so
// deadlines come in the order the operations were added: a FIFO ring and
// one goroutine replace a timer per operation, which cost more than the
// rest of coordinating a pipelined GET. An operation that finishes drops
// itself, so that the ring keeps no finished one alive.
type deadlines struct {
	delay time.Duration
	base  time.Time // deadlines are durations since base (monotonic)
	kick  chan struct{}

	mu   sync.Mutex
	ring []deadlineSlot // indexed by sequence number; length a power of two
	head uint64         // oldest slot still in the ring
	tail uint64         // next sequence number
}

type deadlineSlot struct {
	at time.Duration
	op expirer // nil once dropped
}

func newDeadlines(delay time.Duration) *deadlines {
	return &deadlines{delay: delay, base: time.Now(), kick: make(chan struct{}, 1), ring: make([]deadlineSlot, 64)}
}

// add starts op's wait and stores its sequence number, for drop, in *seq
// (before run can expire it). With seq nil, op is never dropped: it stays
// referenced until its deadline, and its expire must ignore a deadline
// that comes after it finished (cheaper for operations that are short
// and many, such as reads).
func (d *deadlines) add(op expirer, seq *uint64) {
	at := time.Since(d.base) + d.delay
	d.mu.Lock()
	if d.tail-d.head == uint64(len(d.ring)) {
		d.growLocked()
	}
	wasEmpty := d.head == d.tail
	d.ring[d.tail&uint64(len(d.ring)-1)] = deadlineSlot{at: at, op: op}
	if seq != nil {
		*seq = d.tail
	}
	d.tail++
	d.mu.Unlock()
	if wasEmpty {
		select {
		case d.kick <- struct{}{}:
		default:
		}
	}
}

// drop ends the wait of the operation added as seq.
func (d *deadlines) drop(seq uint64) {
	d.mu.Lock()
	if seq >= d.head && seq < d.tail {
		d.ring[seq&uint64(len(d.ring)-1)].op = nil
	}
	d.mu.Unlock()
}

func (d *deadlines) growLocked() {
	ring := make([]deadlineSlot, 2*len(d.ring))
	for seq := d.head; seq < d.tail; seq++ {
		ring[seq&uint64(len(ring)-1)] = d.ring[seq&uint64(len(d.ring)-1)]
	}
	d.ring = ring
}

// due removes the slots at the head that are dropped or past their
// deadline, appends the operations of the latter to ops, and returns the
// next deadline (-1: none).
func (d *deadlines) due(now time.Duration, ops []expirer) ([]expirer, time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	mask := uint64(len(d.ring) - 1)
	for ; d.head < d.tail; d.head++ {
		s := &d.ring[d.head&mask]
		if s.op != nil && s.at > now {
			return ops, s.at
		}
		if s.op != nil {
			ops = append(ops, s.op)
		}
		*s = deadlineSlot{}
	}
	return ops, -1
}

// run expires operations until ctx ends.
func (d *deadlines) run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	var ops []expirer
	for {
		var next time.Duration
		ops, next = d.due(time.Since(d.base), ops[:0])
		for i, op := range ops {
			op.expire()
			ops[i] = nil
		}
		var wake <-chan time.Time
		if next >= 0 {
			t.Reset(next - time.Since(d.base))
			wake = t.C
		}
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-d.kick:
			t.Stop()
		case <-wake:
		}
	}
}
