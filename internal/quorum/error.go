package quorum

import "fmt"

// Error is the answer to a client when too few replicas acknowledged an
// operation. Its text is the RESP error reply as it is, for example
// "NOQUORUM write: 1 of 2 required replicas acknowledged (3 known)". A
// write that failed so may still be held by the replicas that
// acknowledged it: its outcome is unknown.
type Error struct {
	Op    Op  // Read or Write
	Acks  int // replicas that acknowledged (a read: answered), the coordinator included
	Need  int // replicas required (W or R), the coordinator included
	Known int // replicas known, the coordinator included
}

func (e *Error) Error() string {
	verb := "acknowledged"
	if e.Op == Read {
		verb = "answered"
	}
	return fmt.Sprintf("NOQUORUM %s: %d of %d required replicas %s (%d known)", e.Op, e.Acks, e.Need, verb, e.Known)
}
