// Package storage is Planet's durable, versioned key-value store: N
// replicas per region (default 3), each an Engine (a WAL materialised in
// goleveldb) behind a RESP server, coordinating local quorums with the
// region's other replicas.
//
// # Versions
//
// Every write carries an hlc.Version: a hybrid logical clock timestamp
// (wall milliseconds << 16 | logical counter) and the node that minted it,
// "<region>-<port>", which breaks ties. Versions are totally ordered across
// every replica of every region, and a replica's clock moves past every
// version it receives (replicated writes, read answers, anti-entropy), so
// last-writer-wins converges to the same value everywhere. Because the node
// names its region, a version also tells the write's origin region.
// Replicated versions more than MaxClockSkew ahead of the local clock are
// refused, so one bad clock cannot drag the others into the future.
//
// # Engine
//
// Each replica's state is a storage/engine.Engine: the WAL (package
// storage/wal, whose doc gives the record grammar) materialised in
// goleveldb, with group commit, recovery, compaction into snapshots and
// WAL generations, tombstones purged after TombstoneGrace (as Cassandra's
// gc_grace_seconds: a replica away longer than that must be rebuilt, not
// caught up), the anti-entropy digest and the hints. The engine's doc
// describes it.
//
// # Quorum
//
// The replicas of a region are list_local("storage"), refreshed every
// second; the last known set is kept while discovery is unreachable. The
// replica a client talks to coordinates: a SET/DEL gets a new version, is
// applied locally and sent as REPL.PUT/REPL.DEL to every peer in parallel
// over persistent pipelined connections (internal/peer); the writes that
// queue for a peer while its previous batch is in flight go as one
// REPL.MPUT/REPL.MDEL (peer.Client.GoMerged), so that the peer parses one
// command and fsyncs once for the batch. A write is acknowledged OK once W
// replicas, the coordinator included, hold it durably and the
// coordinator's own write is done (so that its SCAN and DBSIZE, which are
// local, show what it acknowledged). Otherwise the client gets "-NOQUORUM
// write: a of W required replicas acknowledged (n known)", never OK; as
// in Cassandra, replicas that did apply the write keep it (the coordinator
// writes its own copy even when fewer than W replicas are known, so the
// count is honest). A GET reads the local replica and asks
// R-1 peers for their version only (VVER, merged as MVVER like writes: a
// digest read as in Cassandra);
// if a peer holds a newer version its entry is fetched (VGET). The highest
// version is returned and the replicas that answered an older one are
// repaired (read repair, before the reply: see Linearizability). A peer
// that has not answered within 20ms is backed up by the next one
// (speculative retry), and a peer that does not
// keep up (hung, partitioned: its queue is full) fails at once and gets a
// hint, so one bad replica stalls neither reads nor writes. SCAN and
// DBSIZE answer from the coordinator's replica alone.
//
// The coordinator's quorum writes and reads are callback state machines
// (writeAsync, readAsync) rather than goroutines, and SET, GET, REPL.PUT and
// REPL.DEL implement resp.AsyncHandler: every command of a pipeline starts
// at once, so a pipeline's writes reach the committer together and share
// one fsync on every replica.
//
// REPL.PUT key value version and REPL.DEL key version apply iff the version
// is newer than the replica's (idempotent) and are never re-replicated.
// REPL.PUT replies :1 if applied, :0 if the replica already held that or a
// newer version; REPL.DEL replies :1 if it deleted a live value. Both count
// as acknowledgements: either way the replica durably holds the version or
// a newer one.
//
// # Linearizability
//
// With W+R>N and Consistency Linearizable (the default), every key is a
// linearizable register, as ABD's. Two rules make it so; with Quorum
// consistency neither runs, and a read may return a write still in flight
// that a later read does not (the new/old inversion).
//
// Reads write back. A read that finds its R answers disagreeing (or that
// fewer than W of them hold the newest entry) writes the newest entry to
// every replica not known to hold it and replies only once W replicas hold
// it durably (a replica holding a newer version counts). So a value that a
// read returned is held by W replicas; every later read's R replicas
// intersect them and return it or something newer. Reads whose answers
// agree cost nothing extra.
//
// Writes order above a quorum. A write must get a version above every
// version that a write quorum held when it began, also when two
// coordinators mint versions in the same millisecond (HLC ties are ordered
// by node id, which is not real-time order). Rather than ABD's query round
// before every write, the replication itself is the query: a replica
// applies a replicated write iff its version is newer than the one it
// holds, and otherwise answers with the newer version it holds. A
// coordinator that hears of a newer version ends the attempt, moves its
// clock past that version and writes again with a new one (at most 8
// attempts, then an error), so the version a write is acknowledged with
// was newer, on each of the W replicas that acknowledged it, than what that
// replica held when it applied it. Now let A be any write acknowledged (or
// any value a read returned) before write B began: W replicas held A's
// version or a newer one before B began. If 2W > N, B's W acknowledging
// replicas include one of them, which applied B only because B's version
// was above what it held, so B's version is above A's. If 2W <= N, write
// quorums need not intersect, and the coordinator first runs a quorum read
// of the key (ABD's query phase, with write-back), whose R replicas do
// intersect A's W, and mints B's version after observing the newest one.
// Retried attempts and failed writes may leave lower versions of the same
// write on some replicas; they are older than what every later operation
// returns, and a write that got an error has an unknown outcome, as in any
// quorum system. An acknowledged write of the coordinator is also done
// locally, so SCAN and DBSIZE there show it; they read one replica and are
// not linearizable.
//
// # Row cache
//
// Recently written and read entries, and keys known to be absent, stay in
// memory in front of goleveldb (STORAGE_CACHE_BYTES, 64 MiB; see rowCache):
// quorum reads, digest reads and the committer's "newer version wins"
// check then cost a map lookup. The committer, the only writer, updates it
// after every batch, so it never disagrees with goleveldb.
//
// # Catching up: hinted handoff and anti-entropy
//
// Both, because they cover different failures:
//
//   - Hinted handoff is fast and cheap for the common case, a replica that
//     restarts or is partitioned for a while. When a peer does not
//     acknowledge a replicated write, the coordinator stores a hint (the
//     key, not the value, in its goleveldb state, so it survives restarts)
//     and, once the peer answers again, sends it the key's current entry.
//     Hints older than HintWindow (3h) are dropped.
//   - Anti-entropy is the safety net for what hints cannot see: a
//     coordinator that crashed before storing its hints, a replica that
//     lost its disk, hints dropped after HintWindow. Every replica keeps a
//     digest of 1,024 buckets, each the XOR of a hash of (key, version) of
//     its entries, updated in O(1) per write and persisted with the state.
//     Every AntiEntropyInterval each replica fetches each peer's digest
//     (REPL.DIGEST), lists the keys and versions of the buckets that differ
//     (REPL.BUCKET), pulls what the peer has newer and pushes what it has
//     newer. Replicas that agree exchange 8 KiB per round.
package storage
