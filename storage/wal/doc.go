// Package wal defines Planet's write-ahead log: the record format, a reader
// that detects torn and corrupt tails, the segment files of a storage
// directory, an append-only writer, positions in the log, and a follower
// that reads a log while it is written.
//
// The format is a contract. The storage engine writes it, the WAL tailer
// ships it to other regions, and operators read it with grep and less, so it
// is plain ASCII text with one record per line and changes only with a new
// record tag.
//
// # Records
//
// In ABNF (RFC 5234), where every literal is case-sensitive:
//
//	record   = put / del
//	put      = "VPUT " key "=" value "@" version " " origin " " crc LF
//	del      = "VDEL " key "@" version " " origin " " crc LF
//	key      = *byte
//	value    = *byte
//	byte     = plain / escape
//	plain    = %x21-24 / %x26-3C / %x3E-3F / %x41-7E  ; printable but not % = @
//	escape   = "%" HEXU HEXU  ; any other byte: %x00-20 / "%" / "=" / "@" / %x7F-FF
//	HEXU     = DIGIT / %x41-46  ; 0-9 A-F, uppercase only
//	version  = wallms "." logical "." node
//	wallms   = decimal  ; milliseconds since the Unix epoch, below 2^48
//	logical  = decimal  ; HLC logical counter, at most 65535
//	decimal  = "0" / %x31-39 *DIGIT  ; no sign, no leading zeros
//	node     = 1*64( %x61-7A / DIGIT / "-" )  ; replica id: [a-z0-9-]
//	origin   = %x61-7A *31( %x61-7A / DIGIT )  ; region: [a-z][a-z0-9]*, 1..32 bytes
//	crc      = 8( DIGIT / %x61-66 )  ; lowercase hex
//
// key and value are the raw bytes, percent-encoded: a byte in 0x21..0x7E
// other than '%', '=' and '@' stands for itself, every other byte is written
// as '%' and two uppercase hex digits. Keys and values may be empty
// ("VPUT =@1.0.a sfo 9d710cdc" puts the empty value under the empty key).
// version is an hlc.Version (see package hlc). origin is the region where
// the write was first accepted; the tailer ships only records of its own
// region. crc is the CRC-32C (Castagnoli) of every byte of the line before
// the space that precedes it, that is from the 'V' through the end of origin.
//
// For example, putting "a b" under the key "user=1" at 1763768229000.3 on
// replica sfo-10600 in region sfo is the line
//
//	VPUT user%3D1=a%20b@1763768229000.3.sfo-10600 sfo 42bd1cbf
//
// # Invariants
//
//   - Canonical: every record has exactly one encoding. A decoder rejects
//     lowercase hex, escapes of bytes that need none, raw bytes that need an
//     escape, non-canonical numbers and anything after the crc, so
//     AppendRecord(DecodeRecord(line)) == line for every line that decodes.
//   - Self-delimiting: a record never contains a raw LF (or CR, or space
//     outside its three separators), so LF alone separates records, a line
//     can be found by scanning, and the key, value and version are split at
//     the first raw '=' and '@' without lookahead.
//   - Checked: a line whose crc does not match is corrupt. A last line
//     without its LF is a torn write (the writer crashed, or is still
//     appending); a reader reports it as io.ErrUnexpectedEOF and it can be
//     retried once more data is there, or cut off at recovery.
//   - Bounded: a reader rejects lines longer than Reader.MaxRecord (64 MiB by
//     default) instead of buffering without limit.
//
// # Files
//
// A storage directory holds numbered generations, starting at 1:
//
//	wal-<gen>.log        records appended since generation gen began
//	snapshot-<gen>.log   the complete state as of the start of generation gen
//
// with gen in decimal, zero-padded to 16 digits (LogName, SnapshotName). A
// snapshot uses the record format above, holds one record per key (tombstones
// included) in no particular order, and appears atomically (written to
// "<name>.tmp", fsynced, renamed, directory fsynced), so a snapshot file that
// exists is complete. A new generation means a new file; a reader that sees a
// larger generation knows the log it was reading will not grow any more.
// Files with other names (such as leftover "*.tmp" files) are not part of the
// log.
//
// # Padding
//
// A log may end in padding: NUL bytes (%x00) that the writer put ahead of
// its records so that fdatasync writes data only, not the metadata of a
// growing file (see Writer.Prealloc). In full:
//
//	log      = *record [torn] *%x00
//	torn     = 1*( %x01-09 / %x0B-FF )  ; a record cut short by a crash
//
// A NUL byte never appears in a record (it is always escaped), so the first
// NUL where a record would start ends the records written so far, like the
// end of the file: a reader stops there (io.EOF), and a NUL inside a line
// means a torn write (io.ErrUnexpectedEOF). The writer later overwrites the
// padding with records, so a reader that stopped at padding and wants what
// was appended since reads again from Offset() with a new Reader (or Reset),
// as a Follower does. Snapshots have no padding.
//
// # Positions
//
// A Position {Generation, Offset} is a point in a directory's WAL: the byte
// offset in LogName(Generation) where the next record starts, which is the
// end of the last one read or applied. Positions order by generation, then
// offset; their text form is "<generation>:<offset>" ("3:1024"). The engine
// records the position up to which its state holds the log; the WAL tailer
// keeps one per remote region as its cursor. A position at offset 0 of a
// generation is before every record of that log, and after every record of
// the logs before it.
//
// # Following a live log
//
// OpenAt(dir, pos) returns a Follower that reads records from pos on while
// a Writer appends. Next does not block: at the end of what is written (the
// end of the file, the padding, or a record partly written) it returns
// ErrNoMore (ErrTorn for a partial record), and a later call reads the file
// again from Position(), since the writer overwrites the padding in place.
// The caller decides when to call again. The tailer polls: at once while
// records come, then after a pause that doubles from about a millisecond to
// a few tens of milliseconds while none do. A poll that finds nothing costs
// two small reads and three stat calls.
//
// A Follower moves on to generation g+1 at offset 0 (Position() tells, and
// Next reads on there) once it has read the log of g to its end and the
// writer has left that log: wal-<g+1>.log (or wal-<g+2>.log) exists, or
// wal-<g>.log was removed. It finishes a log that
// compaction removed while it had it open. If the next log is gone (the
// follower fell behind compaction), Next returns ErrGenerationGone and the
// records in it can be had only from a later snapshot; the follower never
// skips a generation. At the end of a log that will not grow any more, a
// torn record or data after padding (a zeroed block, behind which no reader
// can reach) is corruption (*CorruptError), as is any line that is not a
// record. A position whose log no longer holds the records before it (a
// machine crash lost writes that were not synced, and others were written in
// their place) is ErrPositionLost. All three are sticky: a Follower does
// not guess past them.
//
// Recovery reads the same way, to the end of what is written, across
// generations: Next until ErrNoMore (the records end cleanly at
// Position()), ErrTorn (a partial record to cut at Position().Offset), a
// *CorruptError (cut the log of Position().Generation at its Offset, then go
// on from the next generation if there is one) or ErrPositionLost (the
// applied point is past the records the log holds: replay it from 0).
//
// This relies on what the writer of a directory does:
//
//   - it writes records only at the end of its records, over padding or
//     past the end of the file, never over a record;
//   - it creates wal-<g+1>.log only after its last write to wal-<g>.log,
//     and does not write to wal-<g>.log after that, not even if starting
//     the new generation fails;
//   - compaction removes only logs the writer has left, oldest first.
//
// # Writing through an FS
//
// Writer, OpenWriterWith and WriteSnapshotWith do their file I/O through an
// FS (Options.FS): the operating system's (OSFS, the default, with
// fdatasync on Linux) or, in tests, package errorfs, which fails the i-th
// write, sync, open, truncate, close, rename or remove, as pebble's
// vfs/errorfs. A Writer reports every failed write or sync to its caller
// and refuses to write or sync from then on: after a failed fsync it cannot
// know what is on disk (the kernel may have dropped the pages and will not
// say so again), so its owner reopens the log and recovers it, which keeps
// every record whose Sync succeeded.
package wal
