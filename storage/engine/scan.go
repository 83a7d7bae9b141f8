package engine

// ScanCursors bounds Scan's cursor: a cursor is in [0, ScanCursors).
const ScanCursors = numLayout

// Scan examines at least count entries from layout bucket cursor on, up to
// a bucket boundary, and returns the live keys for which match (nil: any)
// is true and the next cursor (0: done).
func (e *Engine) Scan(cursor, count int, match func(key []byte) bool) (int, [][]byte, error) {
	if err := e.Flush(); err != nil {
		return 0, nil, err
	}
	it := e.db.NewIterator(e.iterRange(cursor, numLayout), nil)
	defer it.Release()
	var keys [][]byte
	examined, last := 0, -1
	for it.Next() {
		key, b := userKey(it.Key())
		if examined >= count && b != last {
			return b, keys, nil
		}
		examined, last = examined+1, b
		if len(it.Value()) > 0 && it.Value()[0]&flagDeleted != 0 {
			continue
		}
		if match == nil || match(key) {
			keys = append(keys, append([]byte(nil), key...))
		}
	}
	return 0, keys, it.Error()
}
