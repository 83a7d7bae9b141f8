// Package quorum decides quorum operations: whether a replicated write or
// read has won its quorum, lost it, or must wait for more answers; and it
// tells the operations still open when their deadline has passed.
//
// # Counting
//
// A Tally counts the answers of one operation that asks total replicas
// and needs need of them to acknowledge (W for a write, R for a read).
// Both numbers count the coordinator when it is itself a replica, as a
// storage node always is: "need=2 total=3" is W=2 with two peers. Each
// answer is an acknowledgement or a failure, from the coordinator (Local)
// or from a peer (Peer). After every answer the Tally gives a VoteResult,
// as raft's quorum package does for elections:
//
//   - Won: at least need replicas acknowledged, and for a write the
//     coordinator's own answer is in. A write is not acknowledged while
//     the coordinator's copy is still in flight, so that the
//     coordinator's local commands (SCAN, DBSIZE) show every write it has
//     acknowledged. The coordinator's answer may be a failure: then the
//     peers alone must make up need.
//   - Lost: even if every replica that has not answered acknowledged,
//     fewer than need would have. A write or read that needs more replicas
//     than it asks (need > total) is lost before any answer.
//   - Pending: neither.
//
// A result, once Won or Lost, never changes: acknowledgements only grow,
// and what could still be reached only shrinks. Answers keep being
// counted after the decision, so Acks says how many replicas hold a write.
// Answers beyond the replicas asked (a second answer from the
// coordinator, or more peer answers than peers) are ignored.
//
// # Reporting a lost quorum
//
// A lost write may still be held by some replicas: the client must treat
// its outcome as unknown, and the error says how many acknowledged it.
// So a coordinator reports Won at once but a loss only when Done, that is
// when every replica has answered or the deadline has passed:
//
//	switch r := t.Add(quorum.Peer, ok); {
//	case r == quorum.Won:
//		finish(nil)
//	case t.Done():
//		finish(t.Err()) // a *Error
//	}
//
// The coordinator finishes once: it keeps its own flag, since answers
// after a win return Won again and Expire may race with the last answer.
// A coordinator that asks fewer replicas than total (a read asks R-1 peers
// and another one only when one fails) knows better than the Tally what is
// in flight: it reports Lost when its own requests have all answered.
//
// With one replica and W=2 the write is Lost before any answer, and once
// the coordinator has written its own copy the error reads "NOQUORUM
// write: 1 of 2 required replicas acknowledged (1 known)": the
// coordinator's copy counts like any other.
//
// # Deadlines
//
// At its deadline an operation calls Expire: every replica that has not
// answered, the coordinator included, counts as failed, and the result is
// final (Won if need replicas acknowledged, otherwise Lost). A write whose
// peers acknowledged in time is thus Won even if the coordinator's own
// write has not finished by the deadline; the deadline is the one
// exception to the rule above.
//
// Deadlines calls Expire on operations that are still open at their
// deadline. Every operation of one Deadlines waits the same delay, so the
// deadlines come in the order the operations were added: one goroutine and
// a FIFO ring replace a timer per operation.
//
// # Concurrency and cost
//
// A Tally is a small value that allocates nothing; it is not safe for
// concurrent use (a coordinator guards it with the mutex of its
// operation). Only Err allocates, the error it returns. Deadlines is safe
// for concurrent use.
package quorum
