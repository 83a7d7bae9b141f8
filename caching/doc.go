// Package caching is Planet's cache: a RESP server that behaves as
// redis-server 7 does for strings, keys and expiry, with a memory limit and
// LRU eviction.
//
// This package holds the single-node cache: the keyspace (Store), its
// expiry and eviction, the Redis commands over it, and a Server that
// serves them, with /health and /metrics on an admin port and a
// registration in discovery as "caching". Replication between caches
// comes next; every entry already carries the hlc.Version of the write
// that made it, for last-writer-wins between regions.
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
