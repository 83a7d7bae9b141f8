package quorum

import (
	"context"
	"sync"
	"time"
)

// Expirer is an operation that must hear of its deadline.
type Expirer interface {
	// Expire tells the operation that its deadline has passed. It runs
	// on the goroutine of Deadlines.Run, so it must not block. It may
	// come just after the operation finished (the two race), and must
	// then do nothing.
	Expire()
}

// Deadlines calls Expire on the operations still open at their deadline,
// a fixed delay after they were added.
//
// Every operation waits the same delay, so deadlines come in the order
// the operations were added: a FIFO ring and one goroutine (Run) replace a
// timer per operation, which cost more than the rest of coordinating a
// pipelined GET. An operation that finishes drops itself, so that the
// ring keeps no finished one alive. Deadlines is safe for concurrent use.
type Deadlines struct {
	delay time.Duration
	now   func() time.Duration // monotonic; replaced by tests
	kick  chan struct{}        // Run waits for an Add to an empty ring

	mu   sync.Mutex
	ring []deadline // indexed by sequence number; length a power of two
	head uint64     // oldest slot still in the ring
	tail uint64     // next sequence number
}

// deadline is a slot of the ring.
type deadline struct {
	at time.Duration
	op Expirer // nil once dropped or expired
}

// NewDeadlines returns Deadlines that expire operations delay after they
// were added, once Run runs.
func NewDeadlines(delay time.Duration) *Deadlines {
	base := time.Now()
	return &Deadlines{
		delay: delay,
		now:   func() time.Duration { return time.Since(base) },
		kick:  make(chan struct{}, 1),
		ring:  make([]deadline, 64),
		head:  1, // sequence numbers start at 1: Drop(0) drops nothing
		tail:  1,
	}
}

// Add starts op's wait. Unless seq is nil it stores op's sequence number,
// for Drop, in *seq, before Run can expire op. With seq nil, op is never
// dropped: the ring keeps it until its deadline, and its Expire must
// ignore a deadline that comes after it finished (cheaper for operations
// that are short and many, such as reads).
func (d *Deadlines) Add(op Expirer, seq *uint64) {
	at := d.now() + d.delay
	d.mu.Lock()
	if d.tail-d.head == uint64(len(d.ring)) {
		d.growLocked()
	}
	wasEmpty := d.head == d.tail
	d.ring[d.tail&uint64(len(d.ring)-1)] = deadline{at: at, op: op}
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

// Drop ends the wait of the operation that Add numbered seq. Dropping an
// operation that has expired, or seq 0, does nothing.
func (d *Deadlines) Drop(seq uint64) {
	d.mu.Lock()
	if seq >= d.head && seq < d.tail {
		d.ring[seq&uint64(len(d.ring)-1)].op = nil
	}
	d.mu.Unlock()
}

func (d *Deadlines) growLocked() {
	ring := make([]deadline, 2*len(d.ring))
	for seq := d.head; seq < d.tail; seq++ {
		ring[seq&uint64(len(ring)-1)] = d.ring[seq&uint64(len(d.ring)-1)]
	}
	d.ring = ring
}

// Run expires operations until ctx is done. Call it once, on a goroutine
// of its own; it returns when ctx is done.
func (d *Deadlines) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var buf []Expirer
	for {
		var next time.Duration
		buf, next = d.expire(d.now(), buf[:0])
		var wake <-chan time.Time
		if next >= 0 {
			timer.Reset(next - d.now())
			wake = timer.C
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-d.kick:
			timer.Stop()
		case <-wake:
		}
	}
}

// expire calls Expire on the operations whose deadline is now or earlier,
// using buf, and returns buf and the next deadline (-1: none).
func (d *Deadlines) expire(now time.Duration, buf []Expirer) ([]Expirer, time.Duration) {
	buf, next := d.due(now, buf)
	for i, op := range buf {
		op.Expire()
		buf[i] = nil
	}
	return buf, next
}

// due removes the slots at the head that are dropped or past their
// deadline, appends the operations of the latter to ops, and returns the
// next deadline (-1: none).
func (d *Deadlines) due(now time.Duration, ops []Expirer) ([]Expirer, time.Duration) {
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
		*s = deadline{}
	}
	return ops, -1
}
