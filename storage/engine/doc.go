// Package engine is one storage replica's durable, versioned key-value
// state: a write-ahead log (package storage/wal, the source of truth)
// materialised in goleveldb, which no other package imports.
//
// One committer goroutine takes every queued write, appends the batch's
// records to the WAL, makes them durable with one fsync (group commit; the
// Durability setting), then applies them, together with the applied WAL
// position, the live-key count, the highest version seen and the
// anti-entropy digest. A write is applied iff its version is newer than
// the key's current one (idempotent), and reads never see a write that is
// not durable. Recently written and read entries, and keys known to be
// absent, stay in a row cache in front of goleveldb, which the committer
// alone writes; committed entries reach goleveldb in batches (write-behind)
// and before anything iterates it.
//
// Recovery replays the WAL from the applied position; a torn or corrupt
// tail is cut at the last good record and logged. If the goleveldb state is
// lost it is rebuilt from the newest snapshot and the logs after it.
// Compaction starts a new WAL generation and writes a snapshot of the whole
// state, tombstones included; tombstones older than TombstoneGrace are
// purged.
//
// The engine also keeps the anti-entropy digest (NumBuckets buckets, each
// the XOR of a hash of (key, version) of its entries), SCAN's bucketed
// layout, and the hints of hinted handoff (Hint), so that the server above
// it never touches goleveldb. Errors are the engine's (ErrNotFound,
// ErrClosed), never goleveldb's.
package engine
