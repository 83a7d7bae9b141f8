package caching

import (
	"math"
	"math/big"
	"strconv"

	"planet/internal/resp"
)

// GET key
func cmdGet(tx *Tx, args [][]byte) []byte { return bulkOrNull(tx.read(args[1])) }

// GETDEL key
func cmdGetDel(tx *Tx, args [][]byte) []byte {
	e := tx.read(args[1])
	if e == nil {
		return nullReply
	}
	reply := resp.AppendBulk(nil, e.value)
	tx.deleteEntry(e)
	return reply
}

// MGET key [key ...]
func cmdMGet(tx *Tx, args [][]byte) []byte {
	b := resp.AppendArray(nil, len(args)-1)
	for _, k := range args[1:] {
		if e := tx.read(k); e != nil {
			b = resp.AppendBulk(b, e.value)
		} else {
			b = resp.AppendNull(b)
		}
	}
	return b
}

// APPEND key value: the length after appending.
func cmdAppend(tx *Tx, args [][]byte) []byte {
	e := tx.find(args[1])
	if e == nil {
		e = tx.set(args[1], args[2], 0, false)
		return resp.AppendInt(nil, int64(len(e.value)))
	}
	if !checkStringLength(int64(len(e.value)), int64(len(args[2]))) {
		return tooBigErr
	}
	tx.replaceValue(e, append(e.value, args[2]...))
	return resp.AppendInt(nil, int64(len(e.value)))
}

// STRLEN key
func cmdStrlen(tx *Tx, args [][]byte) []byte {
	e := tx.read(args[1])
	if e == nil {
		return zeroReply
	}
	return resp.AppendInt(nil, int64(len(e.value)))
}

// GETRANGE key start end: Redis's getrangeCommand, inclusive offsets,
// negative ones from the end.
func cmdGetRange(tx *Tx, args [][]byte) []byte {
	start, ok1 := parseInt(args[2])
	end, ok2 := parseInt(args[3])
	if !ok1 || !ok2 {
		return notIntegerErr
	}
	e := tx.read(args[1])
	if e == nil {
		return emptyBulkReply
	}
	n := int64(len(e.value))
	if start < 0 && end < 0 && start > end {
		return emptyBulkReply
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start, end = max(start, 0), max(end, 0)
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		return emptyBulkReply
	}
	return resp.AppendBulk(nil, e.value[start:end+1])
}

// SETRANGE key offset value: the length after writing.
func cmdSetRange(tx *Tx, args [][]byte) []byte {
	offset, ok := parseInt(args[2])
	if !ok {
		return notIntegerErr
	}
	if offset < 0 {
		return offsetErr
	}
	value := args[3]
	e := tx.find(args[1])
	if len(value) == 0 {
		if e == nil {
			return zeroReply
		}
		return resp.AppendInt(nil, int64(len(e.value)))
	}
	if !checkStringLength(offset, int64(len(value))) {
		return tooBigErr
	}
	if e == nil {
		e = tx.set(args[1], nil, 0, false)
	}
	size := max(int64(len(e.value)), offset+int64(len(value)))
	buf := e.value // the entry owns its value: write in place if it fits
	if size > int64(len(buf)) {
		buf = make([]byte, size)
		copy(buf, e.value)
	}
	copy(buf[offset:], value)
	tx.replaceValue(e, buf)
	return resp.AppendInt(nil, size)
}

// incrBy adds by to the integer value of key (0 if missing), keeping its
// TTL.
func (tx *Tx) incrBy(key []byte, by int64) []byte {
	e := tx.find(key)
	var v int64
	if e != nil {
		var ok bool
		if v, ok = parseInt(e.value); !ok {
			return notIntegerErr
		}
	}
	if addOverflows(v, by) {
		return overflowErr
	}
	v += by
	var buf [20]byte
	text := strconv.AppendInt(buf[:0], v, 10)
	if e == nil {
		tx.set(key, text, 0, false)
	} else {
		tx.replaceValue(e, clone(text))
	}
	return resp.AppendInt(nil, v)
}

// INCR key
func cmdIncr(tx *Tx, args [][]byte) []byte { return tx.incrBy(args[1], 1) }

// DECR key
func cmdDecr(tx *Tx, args [][]byte) []byte { return tx.incrBy(args[1], -1) }

// INCRBY key increment
func cmdIncrBy(tx *Tx, args [][]byte) []byte {
	by, ok := parseInt(args[2])
	if !ok {
		return notIntegerErr
	}
	return tx.incrBy(args[1], by)
}

// DECRBY key decrement
func cmdDecrBy(tx *Tx, args [][]byte) []byte {
	by, ok := parseInt(args[2])
	if !ok {
		return notIntegerErr
	}
	if by == math.MinInt64 {
		return decrOverflow
	}
	return tx.incrBy(args[1], -by)
}

// INCRBYFLOAT key increment: computed in x87 extended precision and
// formatted as Redis does, keeping the key's TTL.
func cmdIncrByFloat(tx *Tx, args [][]byte) []byte {
	e := tx.find(args[1])
	v := new(big.Float).SetPrec(longDoublePrec)
	if e != nil {
		var ok bool
		if v, ok = parseFloat(e.value); !ok {
			return notFloatErr
		}
	}
	by, ok := parseFloat(args[2])
	if !ok {
		return notFloatErr
	}
	if v.IsInf() || by.IsInf() {
		return nanErr
	}
	sum := new(big.Float).SetPrec(longDoublePrec).SetMode(big.ToNearestEven).Add(v, by)
	if sum.MantExp(nil) > maxLongDoubleExp {
		return nanErr // beyond long double: Redis gets Infinity
	}
	text := []byte(formatFloat(sum))
	if e == nil {
		tx.set(args[1], text, 0, false)
	} else {
		tx.replaceValue(e, clone(text))
	}
	return resp.AppendBulk(nil, text)
}
