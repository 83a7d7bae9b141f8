package quorum

import "strconv"

// VoteResult is the state of a quorum: pending, won or lost.
type VoteResult uint8

const (
	// Pending means the quorum can still be won or lost.
	Pending VoteResult = 1 + iota
	// Lost means the quorum cannot be won any more.
	Lost
	// Won means the quorum is reached.
	Won
)

func (r VoteResult) String() string {
	switch r {
	case Pending:
		return "pending"
	case Lost:
		return "lost"
	case Won:
		return "won"
	}
	return "VoteResult(" + strconv.Itoa(int(r)) + ")"
}

// Op is the kind of operation a Tally decides. It names the operation in
// an Error.
type Op string

const (
	// Read is a quorum read: any need replicas win it.
	Read Op = "read"
	// Write is a quorum write: need replicas win it once the
	// coordinator's own answer is in.
	Write Op = "write"
)

// Replica says where an answer comes from.
type Replica uint8

const (
	// Peer is another replica.
	Peer Replica = iota
	// Local is the coordinator itself, as one of the replicas.
	Local
)

// Tally counts the answers of one quorum operation; see the package
// documentation for the rules. Make one with NewTally; the zero Tally is
// not meaningful. A Tally is not safe for concurrent use.
type Tally struct {
	op        Op
	need      int // replicas that must acknowledge, the coordinator included
	total     int // replicas asked, the coordinator included
	acks      int
	failed    int
	localDone bool // the coordinator answered, or the deadline passed
}

// NewTally returns the Tally of an operation that needs need of total
// replicas (the coordinator counted in both when it is a replica). It
// panics unless need >= 1 and total >= 0; a write's total must count the
// coordinator, so it is at least 1.
func NewTally(op Op, need, total int) Tally {
	if need < 1 || total < 0 || (op == Write && total < 1) {
		badTally(op, need, total)
	}
	return Tally{op: op, need: need, total: total}
}

// badTally panics; out of line, so that NewTally inlines.
func badTally(op Op, need, total int) {
	panic("quorum: NewTally(" + string(op) + ", " + strconv.Itoa(need) + ", " + strconv.Itoa(total) + ")")
}

// Add counts one answer, an acknowledgement if ok, and returns the result
// with it. An answer beyond the replicas asked is ignored: a second one
// from the coordinator, or one from a peer when every peer has answered
// (for a write, total-1 peers; for a read, total replicas in all).
func (t *Tally) Add(from Replica, ok bool) VoteResult {
	if t.accepts(from) {
		if from == Local {
			t.localDone = true
		}
		if ok {
			t.acks++
		} else {
			t.failed++
		}
	}
	return t.Result()
}

// accepts reports whether an answer from from is one that t still waits
// for.
func (t *Tally) accepts(from Replica) bool {
	left := t.Outstanding()
	switch {
	case from == Local:
		return left > 0 && !t.localDone
	case t.op == Write && !t.localDone:
		return left > 1 // one of them is the coordinator's
	}
	return left > 0
}

// Expire ends the wait at the deadline: every replica that has not
// answered, the coordinator included, counts as failed. The result it
// returns is final. Expire after Done changes nothing.
func (t *Tally) Expire() VoteResult {
	t.failed = t.total - t.acks
	t.localDone = true
	return t.Result()
}

// Result returns the state of the quorum.
func (t *Tally) Result() VoteResult {
	switch {
	case t.acks >= t.need && (t.op != Write || t.localDone):
		return Won
	case t.acks+t.Outstanding() < t.need:
		return Lost
	}
	return Pending
}

// Done reports whether every replica has answered (or Expire was called).
// The result is then Won or Lost, and Acks is final.
func (t *Tally) Done() bool { return t.Outstanding() == 0 }

// Acks returns how many replicas acknowledged so far, the coordinator
// included.
func (t *Tally) Acks() int { return t.acks }

// Outstanding returns how many replicas have not answered yet.
func (t *Tally) Outstanding() int { return t.total - t.acks - t.failed }

// Err returns nil unless the quorum is Lost, and then an *Error with the
// acknowledgements counted so far; call it when Done to report them all.
func (t *Tally) Err() error {
	if t.Result() != Lost {
		return nil
	}
	return &Error{Op: t.op, Acks: t.acks, Need: t.need, Known: t.total}
}

// Need returns how many acknowledgements win the quorum.
func (t *Tally) Need() int { return t.need }

// Total returns how many replicas were asked, the coordinator included.
func (t *Tally) Total() int { return t.total }
