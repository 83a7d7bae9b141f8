package resp

import (
	"sync"
	"sync/atomic"
)

// maxInFlight bounds the commands of a connection that have been dispatched
// but whose reply is not written yet.
const maxInFlight = 1024

// replyQueue orders the replies of a connection's commands. The connection's
// reader appends a slot per command it does not answer itself, in command
// order; commands complete their slot in any order; the writer writes the
// completed slots at the head, in order.
//
// The queue also decides who writes to the connection: the reader while the
// queue is empty (it writes its replies directly), the writer otherwise.
// The reader hands over by appending a slot, the writer hands back by
// writing the last one.
type replyQueue struct {
	// head is the sequence number of the oldest reply not written yet. The
	// writer advances it (holding mu) after writing; the reader may load it
	// without mu to learn whether the queue is empty.
	head atomic.Uint64

	mu       sync.Mutex
	readerCV sync.Cond   // the reader waits for space or for running commands to finish
	writerCV sync.Cond   // the writer waits for the reply at head
	slots    []replySlot // ring indexed by sequence number; its length is a power of two
	tail     uint64      // sequence number of the next slot; advanced by the reader only
	running  int         // commands executing concurrently
	class    Class       // the class of the running commands
	closed   bool        // the reader appends no more; the writer exits when empty
}

type replySlot struct {
	reply []byte
	done  bool
}

func (q *replyQueue) init() {
	q.readerCV.L = &q.mu
	q.writerCV.L = &q.mu
}

// empty reports whether every reply has been written, so that the reader
// owns the connection's writer. Only the reader calls it.
func (q *replyQueue) empty() bool { return q.head.Load() == q.tail }

// startConcurrent appends a slot for a command of class cls (Read or Write)
// about to run concurrently, and returns its sequence number. It waits first
// for a free slot and for running commands of the other class to finish.
func (q *replyQueue) startConcurrent(cls Class) uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.fullLocked() || q.running > 0 && q.class != cls {
		q.readerCV.Wait()
	}
	q.running++
	q.class = cls
	return q.appendLocked(replySlot{})
}

// waitIdle waits until no command runs.
func (q *replyQueue) waitIdle() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.running > 0 {
		q.readerCV.Wait()
	}
}

// appendDone appends a finished reply after the queued ones. It appends
// nothing and returns false if the queue is empty: the reader then writes
// the reply itself.
func (q *replyQueue) appendDone(reply []byte) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.fullLocked() {
		q.readerCV.Wait()
	}
	if q.head.Load() == q.tail {
		return false
	}
	seq := q.appendLocked(replySlot{reply: reply, done: true})
	if seq == q.head.Load() {
		q.writerCV.Signal()
	}
	return true
}

// complete records the reply of the concurrent command seq.
func (q *replyQueue) complete(seq uint64, reply []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.slots[seq&uint64(len(q.slots)-1)] = replySlot{reply: reply, done: true}
	q.running--
	if q.running == 0 {
		q.readerCV.Signal()
	}
	if seq == q.head.Load() {
		q.writerCV.Signal()
	}
}

// close waits until every reply has been written, then lets the writer
// exit. The reader calls it last.
func (q *replyQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.head.Load() != q.tail {
		q.readerCV.Wait()
	}
	q.closed = true
	q.writerCV.Signal()
}

// take waits until the reply at head is done and appends it, and every done
// reply right after it, to batch. It returns false once the queue is closed.
func (q *replyQueue) take(batch [][]byte) ([][]byte, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	head := q.head.Load()
	for head == q.tail || !q.slots[head&uint64(len(q.slots)-1)].done {
		if q.closed {
			return batch, false
		}
		q.writerCV.Wait()
	}
	mask := uint64(len(q.slots) - 1)
	for seq := head; seq < q.tail && q.slots[seq&mask].done; seq++ {
		batch = append(batch, q.slots[seq&mask].reply)
		q.slots[seq&mask] = replySlot{}
	}
	return batch, true
}

// advanceIfReady marks n taken replies written if the reply after them is
// done, and reports whether it did: if not, the writer flushes first.
func (q *replyQueue) advanceIfReady(n int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	next := q.head.Load() + uint64(n)
	if next == q.tail || !q.slots[next&uint64(len(q.slots)-1)].done {
		return false
	}
	q.head.Store(next)
	q.readerCV.Signal()
	return true
}

// busy reports whether commands are running.
func (q *replyQueue) busy() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.running > 0
}

// advance marks n taken replies written.
func (q *replyQueue) advance(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.head.Add(uint64(n))
	q.readerCV.Signal()
}

func (q *replyQueue) fullLocked() bool { return q.tail-q.head.Load() >= maxInFlight }

// appendLocked stores s at tail, growing the ring if needed, and returns its
// sequence number.
func (q *replyQueue) appendLocked(s replySlot) uint64 {
	head := q.head.Load()
	if n := q.tail - head; n == uint64(len(q.slots)) {
		q.growLocked(head)
	}
	seq := q.tail
	q.slots[seq&uint64(len(q.slots)-1)] = s
	q.tail++
	return seq
}

// growLocked doubles the ring (up to maxInFlight slots), keeping every slot
// from head on at its sequence number's new index.
func (q *replyQueue) growLocked(head uint64) {
	size := max(8, 2*len(q.slots))
	slots := make([]replySlot, size)
	for seq := head; seq < q.tail; seq++ {
		slots[seq&uint64(size-1)] = q.slots[seq&uint64(len(q.slots)-1)]
	}
	q.slots = slots
}
