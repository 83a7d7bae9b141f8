// Package caching is Planet's cache: a RESP server that behaves as
// redis-server 7 does for strings, keys and expiry, with a memory limit and
// LRU eviction, whose writes are replicated to every other cache of every
// region.
//
// The package holds the keyspace (Store), its expiry and eviction, the
// Redis commands over it, the replication between caches (replicator),
// and a Server that serves them, with /health and /metrics on an admin
// port and a registration in discovery as "caching".
//
// # Keyspace
//
// The Store maps keys to string values, each with an optional absolute
// expiry (Unix milliseconds) and a version. One mutex guards it: every
// command runs under it, start to end, so each command is atomic as in
// Redis. Keys live in a fixed number of hash buckets, which SCAN walks in
// order: the cursor is the next bucket, so a key present for a whole scan
// is returned at least once, whatever is added or removed meanwhile.
//
// # Expiry
//
// An expired key is deleted when a command touches it (lazy expiry) and
// by the active expiry cycle (Store.ExpireCycle, every 100 ms in
// Server.Run): as Redis, it samples 20 keys that have a TTL, deletes the
// expired ones, and repeats while more than a quarter of the sample had
// expired, for a bounded number of rounds.
//
// # Memory
//
// An entry costs len(key) + cap(value) + EntryOverhead bytes (see
// EntryOverhead). Before a command that may grow memory (Redis's
// "denyoom" commands: SET, APPEND, INCR, ...) runs, entries are evicted
// per the Policy until the total is at most the limit; if that is not
// possible (noeviction, or volatile-lru without keys with a TTL) the
// command fails with Redis's "-OOM command not allowed when used memory >
// 'maxmemory'." Eviction samples 5 keys and evicts the least recently
// used of them, as Redis does.
package caching

//
// # Replication
//
// A cache's peers are the caches discovery lists (list("caching"), read
// every second): every other cache in every region. A write that changed
// something leaves records: for each key it changed, the key's state at
// the end of the command (value, absolute expiry and version, or deleted
// and version), not the command. Each peer has a bounded queue of records
// (Config.ReplicationQueue) and a sender that ships them in CACHE.APPLY
// batches of up to 512 records, four batches in flight, over the shared
// peer client, authenticated as the platform. The peer applies each
// record iff its version is newer than what it holds for the key (its
// entry's version or its tombstone's), so records may arrive in any
// order, twice, or late, and every cache ends with the same state: the
// newest write's. A peer that does not answer gets its batch again after
// a backoff (50 ms doubling to 2 s).
//
// When a write's records do not fit in a peer's queue, the peer gets an
// invalidation of their keys instead (it drops a key if what it holds is
// older), so it misses rather than serves a stale value; when even the
// keys do not fit (4 × the queue, at least 4096), the peer is told to drop
// every key older than the newest missed write. A peer discovery stops
// listing still gets invalidations for a minute, then is forgotten.
//
// # Modes
//
// A write's mode says how long it waits before it replies: eventual (at
// once), quorum (until one peer applied it) or strong (until every peer,
// remote regions included, applied it). The server's mode is
// Config.Mode (CACHE_MODE, CONFIG SET cache-mode); a client names the
// mode of its next write with PLANET.MODE <mode>, or of every later write
// of its connection with PLANET.MODE <mode> CONNECTION. A quorum or strong
// write not acknowledged within Config.StrongTimeout fails with
//
//	-NOQUORUM quorum write: not acknowledged by any peer (1 of 3 regions)
//	-NOTALL strong write: not acknowledged by ams (2 of 3 regions)
//
// The write is in place locally and in the regions that answered, and
// stays queued for the others: the error says it is not known to be
// everywhere, as Redis's WAIT does, not that it was undone. PLANET.ACKS
// returns the regions that hold the connection's last write so far (a
// region holds it once every cache of it acknowledged), this region first.
// With no peers at all, every mode replies at once.
//
// # Cross-region semantics, by command class
//
//   - SET and its variants, GETSET, MSET, MSETNX, SETRANGE, APPEND: the
//     value a region computed wins everywhere if its write is the newest
//     (last-writer-wins on versions: hybrid logical clock time, then
//     replica id). Concurrent writes of one key in two regions converge to
//     the one with the newer version; the other is lost, as in any
//     last-writer-wins store. NX and XX are decided by the writing cache's
//     state, which may not yet hold a concurrent write from another region.
//   - INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT: the result is replicated as
//     a value. Concurrent increments of one key in two regions both
//     compute from the value they saw, and the newer result wins: one
//     increment is lost. Counters that must count every increment belong
//     in storage (one key per region, summed) or in one region.
//   - DEL, UNLINK, GETDEL, GETEX with a past time, EXPIRE with a past time:
//     a versioned deletion. The key leaves a tombstone with the deletion's
//     version for Config.TombstoneGrace (60 s) past that version's time, so
//     a late SET older than the DEL does not bring the key back. A record
//     older than the grace is applied as an invalidation rather than a
//     value, so nothing older than a tombstone can outlive it.
//   - EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, PERSIST, GETEX with a TTL:
//     versioned writes of the key's state, value and absolute expiry
//     together; a concurrent SET and EXPIRE converge to the newer of the
//     two whole states. Expiry is absolute (Unix milliseconds), so every
//     region expires a key at the same wall-clock time, clock skew aside.
//   - RENAME, RENAMENX: a deletion of the old key and a write of the new.
//   - Expiry and eviction are local decisions, not replicated: each cache
//     expires keys on its own clock and evicts under its own memory limit.
//     A key dropped so, while a record older than it could still arrive,
//     leaves a tombstone at its version. A record that does not fit under
//     the memory limit of a noeviction cache is applied as an
//     invalidation.
//   - FLUSHDB and FLUSHALL empty this cache only; they are not replicated,
//     and writes from peers go on arriving.
//   - Reads (GET, MGET, EXISTS, TTL, SCAN, ...) are local: an eventual write
//     in another region may not have arrived; a strong write that
//     succeeded has.
//
// # Warm start
//
// A cache that starts waits until discovery lists it and its peers have
// read that list, so that new writes reach it, then copies the entries of
// another cache of its region, page by page (CACHE.DUMP), with their TTLs
// and versions, applying them iff newer. Until then it answers clients
// with Redis's -LOADING error. With no other cache in its region (planet
// dev runs one per region), it starts empty: it holds the writes made
// from then on, and the writes its peers had queued for it if it comes
// back at the same address; older keys miss until written again.
// Config.NoWarmStart (CACHE_WARM_START=false) skips the copy.
