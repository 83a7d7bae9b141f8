package caching

import (
	"math"
	"strings"

	"planet/internal/resp"
)

// Redis 7's replies, shared: replies are never modified once made.
var (
	okReply        = resp.AppendOK(nil)
	nullReply      = resp.AppendNull(nil)
	emptyBulkReply = resp.AppendBulk(nil, nil)
	zeroReply      = resp.AppendInt(nil, 0)
	oneReply       = resp.AppendInt(nil, 1)
	syntaxErr      = resp.AppendError(nil, "ERR syntax error")
	notIntegerErr  = resp.AppendError(nil, "ERR value is not an integer or out of range")
	overflowErr    = resp.AppendError(nil, "ERR increment or decrement would overflow")
	decrOverflow   = resp.AppendError(nil, "ERR decrement would overflow")
	notFloatErr    = resp.AppendError(nil, "ERR value is not a valid float")
	nanErr         = resp.AppendError(nil, "ERR increment would produce NaN or Infinity")
	noSuchKeyErr   = resp.AppendError(nil, "ERR no such key")
	oomErr         = resp.AppendError(nil, "OOM command not allowed when used memory > 'maxmemory'.")
	tooBigErr      = resp.AppendError(nil, "ERR string exceeds maximum allowed size (proto-max-bulk-len)")
	offsetErr      = resp.AppendError(nil, "ERR offset is out of range")
	invalidCursor  = resp.AppendError(nil, "ERR invalid cursor")
	loadingErr     = resp.AppendError(nil, "LOADING Redis is loading the dataset in memory")
)

// maxStringLen is the longest value (Redis's proto-max-bulk-len).
const maxStringLen = 512 << 20

// invalidExpireErr is Redis's reply to an expiry out of range for cmd.
func invalidExpireErr(cmd string) []byte {
	return resp.AppendError(nil, "ERR invalid expire time in '"+cmd+"' command")
}

// boolReply is :1 or :0.
func boolReply(b bool) []byte {
	if b {
		return oneReply
	}
	return zeroReply
}

// bulkOrNull is the value of e, or a null bulk if e is nil.
func bulkOrNull(e *entry) []byte {
	if e == nil {
		return nullReply
	}
	return resp.AppendBulk(nil, e.value)
}

// checkStringLength reports whether a string of size+grow bytes is
// allowed (Redis's checkStringLength).
func checkStringLength(size, grow int64) bool {
	total := size + grow
	return total <= maxStringLen && total >= size && total >= grow
}

// is reports whether arg is word (lower case) in any case.
func is(arg []byte, word string) bool {
	return len(arg) == len(word) && strings.EqualFold(string(arg), word)
}

// addOverflows reports whether a+b overflows int64.
func addOverflows(a, b int64) bool {
	return (b < 0 && a < 0 && b < math.MinInt64-a) || (b > 0 && a > 0 && b > math.MaxInt64-a)
}
