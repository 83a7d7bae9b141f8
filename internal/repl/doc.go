// Package repl is the wire form of replication between storage replicas:
// the commands' names, the builders of their arguments, the parser of a
// replicated write into items, and what the replies mean. The storage
// coordinator, hinted handoff, anti-entropy and the WAL tailer share it, so
// that sender and receiver cannot drift apart. It depends on the standard
// library and internal/hlc only, and does no I/O.
//
// # Replicated writes
//
//	REPL.PUT  key value version
//	REPL.DEL  key version
//	REPL.MPUT key value version [key value version ...]
//	REPL.MDEL key version [key version ...]
//
// version is the text form of an hlc.Version ("1763768229000.3.sfo-10600",
// exactly as hlc.ParseVersion accepts it); key and value are any bytes.
// A replica applies an item iff its version is newer than the version it
// holds for the key (value or tombstone): replicated writes are idempotent
// and commute, and a replica never re-replicates them. Its clock observes
// the version.
//
// Replies:
//
//   - REPL.PUT: ":1" if the replica applied the put, ":0" if it already held
//     that version or a newer one (PutReply).
//   - REPL.DEL: ":1" if the delete applied and removed a live value, ":0"
//     otherwise: the replica held a tombstone, nothing, or a newer version
//     (DelReply).
//   - Either integer acknowledges: the replica durably holds the version or
//     a newer one. An error reply does not (a bad version, a key or value
//     too large, a failed write, a version too far ahead of the replica's
//     clock: CheckSkew).
//   - REPL.MPUT and REPL.MDEL are the merged forms: many REPL.PUT or
//     REPL.DEL, one after another, as peer.Client.GoMerged sends them. The
//     reply is an array with one element per item, in order: that item's
//     REPL.PUT or REPL.DEL reply, or its error. A bad item gets an error
//     element and does not affect the others. Only a wrong number of
//     arguments fails the whole command ("-ERR wrong number of arguments
//     for 'repl.mput' command").
//
// # Reads
//
//	VGET key             the replica's entry: *-1 if it holds none, else
//	                     [value, version], value $-1 for a tombstone
//	VVER key             the version of the replica's entry (value or
//	                     tombstone) as a bulk string, $-1 if none: a
//	                     digest read
//	MVVER key [key ...]  the merged form of VVER: an array of VVER replies
//
// # Anti-entropy
//
//	REPL.DIGEST          a bulk string: the hash of every digest bucket,
//	                     8 bytes big-endian each, bucket 0 first
//	                     (AppendDigestBody, ParseDigestBody)
//	REPL.BUCKET bucket   the keys of one bucket with their versions,
//	                     tombstones included: [key, version, key, version,
//	                     ...]; bucket is a decimal in [0, buckets)
//	                     (ParseBucketArg)
//
// Every command here is internal (resp.FlagInternal): only a connection
// authenticated as the platform may send it.
//
// # Arguments
//
// The builders append a whole command to an argument list: args[0] is the
// command's name, shared by every call (never modify it); key and value
// are not copied; the version's text is a new slice. Parse returns items
// whose Key and Value alias the command's arguments.
package repl
