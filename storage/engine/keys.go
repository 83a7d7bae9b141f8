package engine

import (
	"encoding/binary"
	"errors"
	"hash/crc32"

	"planet/internal/hlc"
	"planet/storage/wal"
)

// The goleveldb key space. Data keys are spread over 65,536 layout buckets by
// a hash of the key, so that SCAN has a numeric cursor (the next bucket) and
// anti-entropy can read one digest bucket (64 layout buckets) as one range.
const (
	prefixData   = 'd' // 'd' bucket(2) key -> entry
	prefixMeta   = 'm' // 'm' name -> engine metadata
	prefixHint   = 'h' // 'h' peer 0x00 seq(8) -> key (hinted handoff)
	layoutBits   = 16
	digestBits   = 10
	digestShift  = layoutBits - digestBits
	NumBuckets   = 1 << digestBits // anti-entropy digest buckets
	numLayout    = 1 << layoutBits // SCAN cursor space
	entryHeader  = 1 + 8 + 1       // flags, time, node length
	flagDeleted  = 1
	maxNodeBytes = 64
)

var (
	metaApplied = []byte("m/applied") // gen(8) offset(8): WAL position (wal.Position) applied to the state
	metaCount   = []byte("m/count")   // live keys (8)
	metaClock   = []byte("m/clock")   // highest version time applied (8)
	metaDigest  = []byte("m/digest/") // + bucket(2) -> hash (8)
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// layoutBucket is the bucket a key is stored under.
func layoutBucket(key []byte) uint16 { return uint16(crc32.Checksum(key, crcTable) >> 16) }

// digestBucket is the anti-entropy bucket of a key.
func digestBucket(key []byte) int { return int(layoutBucket(key) >> digestShift) }

// dataKey appends the goleveldb key of a user key to dst.
func dataKey(dst, key []byte) []byte {
	b := layoutBucket(key)
	dst = append(dst, prefixData, byte(b>>8), byte(b))
	return append(dst, key...)
}

// bucketStart is the first goleveldb key of a layout bucket (numLayout: the
// end of the data range).
func bucketStart(b int) []byte {
	if b >= numLayout {
		return []byte{prefixData + 1}
	}
	return []byte{prefixData, byte(b >> 8), byte(b)}
}

// userKey returns the user key of a goleveldb data key and its layout bucket.
func userKey(k []byte) ([]byte, int) {
	return k[3:], int(k[1])<<8 | int(k[2])
}

func digestKey(bucket int) []byte {
	return append(append([]byte(nil), metaDigest...), byte(bucket>>8), byte(bucket))
}

// Entry is what a replica holds for a key: a value or a tombstone, with its
// version and the region where the write was first accepted.
type Entry struct {
	Value   []byte
	Version hlc.Version
	Origin  string
	Deleted bool
}

func appendEntry(dst []byte, e *Entry) []byte {
	var flags byte
	if e.Deleted {
		flags = flagDeleted
	}
	dst = append(dst, flags)
	dst = binary.BigEndian.AppendUint64(dst, e.Version.Time)
	dst = append(dst, byte(len(e.Version.Node)))
	dst = append(dst, e.Version.Node...)
	dst = append(dst, byte(len(e.Origin)))
	dst = append(dst, e.Origin...)
	if !e.Deleted {
		dst = append(dst, e.Value...)
	}
	return dst
}

var errBadEntry = errors.New("storage: malformed entry in state database")

// decodeEntry decodes a stored entry; Value aliases b.
func decodeEntry(b []byte) (Entry, error) {
	var e Entry
	if len(b) < entryHeader {
		return e, errBadEntry
	}
	e.Deleted = b[0]&flagDeleted != 0
	e.Version.Time = binary.BigEndian.Uint64(b[1:9])
	n := int(b[9])
	b = b[10:]
	if len(b) < n+1 {
		return e, errBadEntry
	}
	e.Version.Node = string(b[:n])
	b = b[n:]
	n = int(b[0])
	b = b[1:]
	if len(b) < n {
		return e, errBadEntry
	}
	e.Origin = string(b[:n])
	if !e.Deleted {
		e.Value = b[n:]
	}
	return e, nil
}

// entryHash is an entry's contribution to its digest bucket: the buckets are
// the XOR of the hashes of (key, version) of every entry in them, so they
// can be updated in O(1) on every write and compared between replicas.
func entryHash(key []byte, v hlc.Version) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for _, c := range key {
		h = (h ^ uint64(c)) * prime
	}
	for i := 0; i < 8; i++ {
		h = (h ^ (v.Time >> (8 * i) & 0xff)) * prime
	}
	for i := 0; i < len(v.Node); i++ {
		h = (h ^ uint64(v.Node[i])) * prime
	}
	h ^= uint64(len(key))<<32 | uint64(len(v.Node))
	h *= prime
	return h ^ h>>29
}

// encodePosition is the state database's form of a WAL position: the
// generation and the offset, 8 bytes each, big-endian.
func encodePosition(p wal.Position) []byte {
	b := binary.BigEndian.AppendUint64(nil, p.Generation)
	return binary.BigEndian.AppendUint64(b, uint64(p.Offset))
}

func decodePosition(b []byte) (wal.Position, bool) {
	if len(b) != 16 {
		return wal.Position{}, false
	}
	return wal.Position{Generation: binary.BigEndian.Uint64(b), Offset: int64(binary.BigEndian.Uint64(b[8:]))}, true
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
