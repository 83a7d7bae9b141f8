package engine

// ScanCursors bounds Scan's cursor: a cursor is in [0, ScanCursors).
const ScanCursors = numLayout

// Scan examines at least count entries from layout bucket cursor on, up to
// a bucket boundary, and returns the live keys matching match and the next
// cursor (0: done).
func (e *Engine) Scan(cursor, count int, match []byte) (int, [][]byte, error) {
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
		if match == nil || globMatch(match, key) {
			keys = append(keys, append([]byte(nil), key...))
		}
	}
	return 0, keys, it.Error()
}

// globMatch reports whether s matches a Redis glob pattern: * ? [abc]
// [^a-z] and \ escapes. It backtracks only to the last star, so it runs in
// O(len(p)*len(s)) whatever the pattern.
func globMatch(p, s []byte) bool {
	pi, si := 0, 0
	star, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			if p[pi] == '*' {
				star, starS = pi, si
				pi++
				continue
			}
			if n, ok := matchOne(p[pi:], s[si]); ok {
				pi += n
				si++
				continue
			}
		}
		if star < 0 {
			return false
		}
		starS++
		pi, si = star+1, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// matchOne matches c against the pattern element at the start of p (not a
// star) and returns the element's length.
func matchOne(p []byte, c byte) (int, bool) {
	switch {
	case p[0] == '?':
		return 1, true
	case p[0] == '[':
		return matchClass(p, c)
	case p[0] == '\\' && len(p) > 1:
		return 2, p[1] == c
	}
	return 1, p[0] == c
}

// matchClass matches c against the class at the start of p ("[...]") and
// returns the class's length.
func matchClass(p []byte, c byte) (int, bool) {
	i := 1
	negate := i < len(p) && p[i] == '^'
	if negate {
		i++
	}
	matched := false
	for ; i < len(p) && p[i] != ']'; i++ {
		switch {
		case p[i] == '\\' && i+1 < len(p):
			i++
			matched = matched || p[i] == c
		case i+2 < len(p) && p[i+1] == '-' && p[i+2] != ']':
			lo, hi := p[i], p[i+2]
			if lo > hi {
				lo, hi = hi, lo
			}
			matched = matched || lo <= c && c <= hi
			i += 2
		default:
			matched = matched || p[i] == c
		}
	}
	if i < len(p) {
		i++ // the closing ]
	}
	return i, matched != negate
}
