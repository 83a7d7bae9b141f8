package engine

import (
	"encoding/binary"
	"fmt"

	"planet/internal/hlc"
)

// KeyVersion is one entry of a digest bucket listing.
type KeyVersion struct {
	Key     []byte
	Version hlc.Version
	Deleted bool
}

// BucketEntries lists the keys and versions (tombstones included) of one
// anti-entropy digest bucket.
func (e *Engine) BucketEntries(bucket int) ([]KeyVersion, error) {
	if err := e.Flush(); err != nil {
		return nil, err
	}
	from := bucket << digestShift
	it := e.db.NewIterator(e.iterRange(from, from+1<<digestShift), nil)
	defer it.Release()
	var out []KeyVersion
	for it.Next() {
		key, _ := userKey(it.Key())
		ent, err := decodeEntry(it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, KeyVersion{Key: append([]byte(nil), key...), Version: ent.Version, Deleted: ent.Deleted})
	}
	return out, it.Error()
}

// EncodeDigest is the REPL.DIGEST reply body: the buckets' hashes, 8 bytes
// each, big-endian.
func EncodeDigest(d *[NumBuckets]uint64) []byte {
	b := make([]byte, 0, 8*NumBuckets)
	for _, h := range d {
		b = binary.BigEndian.AppendUint64(b, h)
	}
	return b
}

// DiffBuckets returns the buckets whose hashes differ between a local digest
// and an encoded remote one.
func DiffBuckets(local *[NumBuckets]uint64, remote []byte) ([]int, error) {
	if len(remote) != 8*NumBuckets {
		return nil, fmt.Errorf("digest of %d bytes, want %d", len(remote), 8*NumBuckets)
	}
	var diff []int
	for i := range local {
		if local[i] != binary.BigEndian.Uint64(remote[8*i:]) {
			diff = append(diff, i)
		}
	}
	return diff, nil
}
