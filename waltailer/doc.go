// Package waltailer ships a region's storage writes to the other regions:
// one tailer per region follows the WAL files of the region's storage
// replicas on its machine and applies the records that originated in its
// region to every other region, through one replica there.
//
// # What it reads
//
// The local replicas are list_local("storage"); the WAL of the replica on
// port P is DATA_DIR/storage-P (package storage/wal: its records, files,
// positions and the Follower that reads a live log). The other regions'
// replicas are list("storage") minus list_local("storage"), grouped by
// region. Both are refreshed every second; a region that disappears from
// discovery keeps its cursors and is retried.
//
// A record is shipped iff its origin is this region: records that
// arrived from other regions (by this tailer's peers' REPL.APPLY, by
// anti-entropy) are never echoed back.
//
// # How it ships
//
// Per remote region, a shipper gathers a batch from every local WAL (up
// to BatchRecords records or BatchBytes bytes), skips the copies of a
// (key, version) that the three local WALs share (within the batch, and
// against the last DedupWindow records acknowledged), and sends it as one
// REPL.APPLY to one replica of the region: the one that took the last
// batch, else the others in turn. That replica applies each record iff
// newer, with its region's write quorum, and replies +OK once W replicas
// hold all of them durably; that is the acknowledgement. One batch per
// region is in flight at a time; a region that does not acknowledge is
// retried with exponential backoff and jitter (RetryMin to RetryMax) and
// holds up no other region. Its backlog stays in the WAL files: memory is
// bounded by one batch per region, whatever the backlog.
//
// A record is read within a few milliseconds of its write: the shipper
// waits on inotify events of the WAL directories (a write, a new
// generation) and polls every PollMax as a backstop (every 1 ms to
// PollMax, doubling, without inotify).
//
// # Cursors
//
// For each (local WAL, remote region) a cursor, the WAL position up to
// which the region acknowledged, moves only after the acknowledgement and
// is saved in DATA_DIR/waltailer/cursors.json (see cursors.go) every
// FlushInterval and at shutdown. A restart resumes from the saved
// cursors: the records after them are sent again (at-least-once delivery;
// applying is idempotent), at most FlushInterval's worth after a crash.
//
// When a WAL's generation changes, the Follower finishes the old log if
// it is still there. If compaction removed a log that a region had not
// received, the tailer says so (log, waltailer_generations_gone_total),
// resends the region's records of this region from the newest snapshot
// (waltailer_resent_records_total) and follows the snapshot's generation
// from its start. A cursor that is not at a record's end any more (a
// machine crash lost unsynced records and others took their place)
// restarts its log from the start. Nothing is skipped silently.
//
// # Anti-entropy across regions
//
// The backstop for what shipping cannot see (a WAL lost before it was
// read): every AntiEntropyInterval the tailer compares the digest of a
// local replica (REPL.DIGEST) with one of each remote region's. A bucket
// that differs is repaired once it has differed for longer than
// RepairAfter, the in-flight window: the keys of the bucket are listed on
// both sides (REPL.BUCKET), and the newer entry of each key is fetched
// (VGET) and applied on the other side with REPL.APPLY, both ways
// (waltailer_anti_entropy_repaired_keys_total).
//
// # Lag
//
// Per remote region, in /metrics (waltailer_lag_*) and GET /v1/status
// (`planet waltailer status`): the records of this region not yet
// acknowledged, their bytes in the WAL, and the seconds behind: now minus
// the wall time, read from its HLC version, of the oldest unacknowledged
// record, on this region's clock (0 when there is none). Each local WAL
// holds a copy of (nearly) every record, so the records and bytes are the
// largest over the WALs, not their sum. A head reader per WAL counts the
// region's records at the end of the log; the lag is what it counted
// past the region's cursor.
//
// # Security
//
// REPL.APPLY, REPL.DIGEST and REPL.BUCKET are internal commands: the
// tailer authenticates to every replica as the platform user, with the
// RESP password derived from PLANET_SECRET_FILE.
package waltailer
