package caching

import (
	"strconv"

	"planet/internal/resp"
)

// KEYS pattern: every live key that matches, in no particular order.
func cmdKeys(tx *Tx, args [][]byte) []byte {
	pattern := args[1]
	all := len(pattern) == 1 && pattern[0] == '*'
	var keys []string
	for _, e := range tx.s.all {
		if (e.expireAt == 0 || e.expireAt > tx.now) && (all || resp.GlobMatch(pattern, []byte(e.key))) {
			keys = append(keys, e.key)
		}
	}
	return appendKeys(nil, keys)
}

// appendKeys appends keys as an array of bulk strings.
func appendKeys(b []byte, keys []string) []byte {
	b = resp.AppendArray(b, len(keys))
	for _, k := range keys {
		b = resp.AppendBulkString(b, k)
	}
	return b
}

// scanArgs are the options of SCAN.
type scanArgs struct {
	count    int64
	pattern  []byte // nil: every key
	typeName []byte // nil: every type
}

// parseScanArgs parses SCAN's options as Redis's scanGenericCommand.
func parseScanArgs(opts [][]byte) (scanArgs, []byte) {
	a := scanArgs{count: 10}
	for i := 0; i < len(opts); i += 2 {
		if i+1 >= len(opts) {
			return a, syntaxErr
		}
		switch val := opts[i+1]; {
		case is(opts[i], "count"):
			n, ok := parseInt(val)
			if !ok {
				return a, notIntegerErr
			}
			if n < 1 {
				return a, syntaxErr
			}
			a.count = n
		case is(opts[i], "match"):
			a.pattern = val
			if len(val) == 1 && val[0] == '*' {
				a.pattern = nil
			}
		case is(opts[i], "type"):
			a.typeName = val
		default:
			return a, syntaxErr
		}
	}
	return a, nil
}

// parseCursor parses a SCAN cursor as strtoul does: decimal, an optional
// sign (a negative one wraps), nothing else.
func parseCursor(b []byte) (uint64, bool) {
	if len(b) == 0 || isSpace(b[0]) {
		return 0, false
	}
	neg := b[0] == '-'
	if b[0] == '+' || neg {
		b = b[1:]
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]: the cursor is
// the next hash bucket to visit; a call visits buckets until it has
// count keys or visited 10*count buckets, as Redis's dictScan loop.
func cmdScan(tx *Tx, args [][]byte) []byte {
	cursor, ok := parseCursor(args[1])
	if !ok {
		return invalidCursor
	}
	a, errReply := parseScanArgs(args[2:])
	if errReply != nil {
		return errReply
	}
	var keys []string
	visits := a.count * 10
	for cursor < numBuckets && visits > 0 && int64(len(keys)) < a.count {
		tx.s.forEachIn(int(cursor), func(e *entry) { keys = append(keys, e.key) })
		cursor++
		visits--
	}
	if cursor >= numBuckets {
		cursor = 0
	}
	keys = tx.scanFilter(keys, a)
	b := resp.AppendArray(nil, 2)
	b = resp.AppendBulk(b, strconv.AppendUint(nil, cursor, 10))
	return appendKeys(b, keys)
}

// scanFilter keeps the keys that match a's pattern and type, deleting
// expired ones.
func (tx *Tx) scanFilter(keys []string, a scanArgs) []string {
	out := keys[:0]
	for _, k := range keys {
		if a.pattern != nil && !resp.GlobMatch(a.pattern, []byte(k)) {
			continue
		}
		if a.typeName != nil && !is(a.typeName, "string") {
			continue
		}
		if tx.find([]byte(k)) != nil {
			out = append(out, k)
		}
	}
	return out
}

// RANDOMKEY: a random live key, or null if there is none.
func cmdRandomKey(tx *Tx, _ [][]byte) []byte {
	s := tx.s
	for len(s.all) > 0 {
		e := s.all[s.rng.IntN(len(s.all))]
		if e.expireAt != 0 && e.expireAt <= tx.now {
			s.dropLocked(e, tx.now)
			s.stats.Expired++
			continue
		}
		return resp.AppendBulkString(nil, e.key)
	}
	return nullReply
}
