package resp

import (
	"sync"
	"sync/atomic"
)

// maxInFlight bounds the commands of a connection that have been dispatched
// but whose reply is not written yet.
const maxInFlight = 1024

// pipeline orders a connection's commands and replies.
//
// The reader appends a slot per command that it does not answer itself, in
// command order. A Read or Write command waits in its slot until a worker
// goroutine takes it; workers run commands concurrently and complete their
// slots in any order; the writer goroutine writes the completed slots at the
// head, in order.
//
// Workers are spawned lazily: whenever commands wait, one spawned worker has
// yet to take its first command (helperPending). A worker that finishes a
// command takes the next waiting one, so a fast pipeline is run by one or
// two goroutines, while a command that blocks holds up only its own worker:
// the pending helper takes the commands behind it, and spawns another if
// more wait.
//
// The pipeline also decides who writes to the connection: the reader while
// no slot is unwritten (it writes its replies directly), the writer
// otherwise. The reader hands over by appending a slot, the writer hands
// back by writing the last one.
type pipeline struct {
	// head is the sequence number of the oldest reply not written yet. The
	// writer advances it (holding mu) after writing; the reader may load it
	// without mu to learn whether the pipeline is empty.
	head atomic.Uint64

	mu            sync.Mutex
	readerCV      sync.Cond // the reader waits for space or for running commands to finish
	writerCV      sync.Cond // the writer waits for the reply at head
	slots         []slot    // ring indexed by sequence number; its length is a power of two
	tail          uint64    // sequence number of the next slot; advanced by the reader only
	nextWaiting   uint64    // while commands wait, none does in a slot before this one
	waiting       int       // commands waiting for a worker
	running       int       // commands waiting or running
	class         Class     // the class of the waiting and running commands
	helperPending bool      // a worker was spawned and has not taken a command yet
	closed        bool      // the reader appends no more; the writer exits when all is written
}

type slot struct {
	args  [][]byte // a command waiting for a worker
	reply []byte
	done  bool
}

func (p *pipeline) init() {
	p.readerCV.L = &p.mu
	p.writerCV.L = &p.mu
}

// empty reports whether every reply has been written, so that the reader
// owns the connection's writer. Only the reader calls it.
func (p *pipeline) empty() bool { return p.head.Load() == p.tail }

// enqueue appends a Read or Write command (class cls) for a worker to run.
// It waits first for a free slot and for the commands of the other class to
// finish. It reports whether the caller must spawn a worker.
func (p *pipeline) enqueue(cls Class, args [][]byte) (spawn bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.fullLocked() || p.running > 0 && p.class != cls {
		p.readerCV.Wait()
	}
	seq := p.appendLocked(slot{args: args})
	if p.waiting == 0 {
		p.nextWaiting = seq
	}
	p.running++
	p.waiting++
	p.class = cls
	if !p.helperPending {
		p.helperPending = true
		return true
	}
	return false
}

// startAsync appends the slot of a command that the handler runs
// asynchronously (class cls): it runs from now on, and completeAsync ends
// it. Like enqueue it first waits for room and for the commands of the
// other class to finish.
func (p *pipeline) startAsync(cls Class) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.fullLocked() || p.running > 0 && p.class != cls {
		p.readerCV.Wait()
	}
	seq := p.appendLocked(slot{}) // running, neither waiting (no args) nor done
	p.running++
	p.class = cls
	return seq
}

// completeAsync records the reply of the asynchronous command seq.
func (p *pipeline) completeAsync(seq uint64, reply []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.completeLocked(seq, reply)
}

// completeLocked records the reply of the running command seq.
func (p *pipeline) completeLocked(seq uint64, reply []byte) {
	p.slots[seq&p.maskLocked()] = slot{reply: reply, done: true}
	p.running--
	if p.running == 0 {
		p.readerCV.Signal()
	}
	if seq == p.head.Load() {
		p.writerCV.Signal()
	}
}

// waitIdle waits until no command waits or runs.
func (p *pipeline) waitIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.running > 0 {
		p.readerCV.Wait()
	}
}

// appendDone appends a finished reply after the queued ones. It appends
// nothing and returns false if the pipeline is empty: the reader then
// writes the reply itself.
func (p *pipeline) appendDone(reply []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.fullLocked() {
		p.readerCV.Wait()
	}
	if p.head.Load() == p.tail {
		return false
	}
	if seq := p.appendLocked(slot{reply: reply, done: true}); seq == p.head.Load() {
		p.writerCV.Signal()
	}
	return true
}

// start is a new worker's first call: it takes a waiting command (ok is
// false if none is left), and reports whether the caller must spawn a
// worker for the commands still waiting.
func (p *pipeline) start() (seq uint64, args [][]byte, ok, spawn bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.helperPending = false
	return p.takeLocked()
}

// finish records the reply of command seq and takes the next waiting
// command, as start does.
func (p *pipeline) finish(seq uint64, reply []byte) (next uint64, args [][]byte, ok, spawn bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.completeLocked(seq, reply)
	return p.takeLocked()
}

func (p *pipeline) takeLocked() (seq uint64, args [][]byte, ok, spawn bool) {
	if p.waiting == 0 {
		return 0, nil, false, false
	}
	mask := p.maskLocked()
	for p.slots[p.nextWaiting&mask].args == nil {
		p.nextWaiting++
	}
	seq = p.nextWaiting
	args = p.slots[seq&mask].args
	p.slots[seq&mask].args = nil
	p.nextWaiting++
	p.waiting--
	if p.waiting > 0 && !p.helperPending {
		p.helperPending = true
		spawn = true
	}
	return seq, args, true, spawn
}

// close waits until every reply has been written, then lets the writer
// exit. The reader calls it last.
func (p *pipeline) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.head.Load() != p.tail {
		p.readerCV.Wait()
	}
	p.closed = true
	p.writerCV.Signal()
}

// take waits until the reply at head is done and appends it, and every done
// reply right after it, to batch. It returns false once the pipeline is
// closed.
func (p *pipeline) take(batch [][]byte) ([][]byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	head := p.head.Load()
	for head == p.tail || !p.slots[head&p.maskLocked()].done {
		if p.closed {
			return batch, false
		}
		p.writerCV.Wait()
	}
	mask := p.maskLocked()
	for seq := head; seq < p.tail && p.slots[seq&mask].done; seq++ {
		batch = append(batch, p.slots[seq&mask].reply)
		p.slots[seq&mask] = slot{}
	}
	return batch, true
}

// advanceIfReady marks n taken replies written if the reply after them is
// done, and reports whether it did: if not, the writer flushes first.
func (p *pipeline) advanceIfReady(n int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	next := p.head.Load() + uint64(n)
	if next == p.tail || !p.slots[next&p.maskLocked()].done {
		return false
	}
	p.head.Store(next)
	p.readerCV.Signal()
	return true
}

// busy reports whether commands wait or run.
func (p *pipeline) busy() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running > 0
}

// advance marks n taken replies written.
func (p *pipeline) advance(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.head.Add(uint64(n))
	p.readerCV.Signal()
}

func (p *pipeline) fullLocked() bool { return p.tail-p.head.Load() >= maxInFlight }

func (p *pipeline) maskLocked() uint64 { return uint64(len(p.slots) - 1) }

// appendLocked stores s at tail, growing the ring if needed, and returns its
// sequence number.
func (p *pipeline) appendLocked(s slot) uint64 {
	head := p.head.Load()
	if p.tail-head == uint64(len(p.slots)) {
		p.growLocked(head)
	}
	seq := p.tail
	p.slots[seq&p.maskLocked()] = s
	p.tail++
	return seq
}

// growLocked doubles the ring (up to maxInFlight slots), keeping every slot
// from head on at its sequence number's new index.
func (p *pipeline) growLocked(head uint64) {
	size := max(8, 2*len(p.slots))
	slots := make([]slot, size)
	for seq := head; seq < p.tail; seq++ {
		slots[seq&uint64(size-1)] = p.slots[seq&p.maskLocked()]
	}
	p.slots = slots
}
