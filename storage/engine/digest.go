package engine

import "planet/internal/repl"

// BucketEntries lists the keys and versions (tombstones included) of one
// anti-entropy digest bucket.
func (e *Engine) BucketEntries(bucket int) ([]repl.KeyVersion, error) {
	if err := e.Flush(); err != nil {
		return nil, err
	}
	from := bucket << digestShift
	it := e.db.NewIterator(e.iterRange(from, from+1<<digestShift), nil)
	defer it.Release()
	var out []repl.KeyVersion
	for it.Next() {
		key, _ := userKey(it.Key())
		ent, err := decodeEntry(it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, repl.KeyVersion{Key: append([]byte(nil), key...), Version: ent.Version, Deleted: ent.Deleted})
	}
	return out, it.Error()
}

// DiffDigests returns the buckets whose hashes differ between two digests.
func DiffDigests(a, b *[NumBuckets]uint64) []int {
	var diff []int
	for i := range a {
		if a[i] != b[i] {
			diff = append(diff, i)
		}
	}
	return diff
}
