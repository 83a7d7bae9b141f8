package caching

import (
	"errors"
	"fmt"
	"strconv"

	"planet/internal/hlc"
	"planet/internal/resp"
)

// The internal commands between caches. Only a connection authenticated
// as the platform may send them (resp.FlagInternal).
//
//	CACHE.APPLY record [record ...]    -> +OK
//
// applies records, each iff newer (Store.Apply). A record is one of
//
//	S key value pexpireat version   the key's value and absolute expiry (0: none)
//	D key version                   the key deleted
//	I key version                   the key invalidated (dropped if older)
//	A version                       every key older than version invalidated
//
// A batch with a malformed record is refused whole: -ERR, nothing applied.
//
//	CACHE.DUMP cursor count          -> [next-cursor, key, value, pexpireat, version, ...]
//
// returns the live entries of whole buckets from cursor on, at least count
// of them unless the last bucket is reached (next-cursor 0): what a warm
// start copies.
const (
	applyCommand = "cache.apply"
	dumpCommand  = "cache.dump"
)

// appendApplyArgs appends the arguments of one CACHE.APPLY record of op,
// copying what they hold into *arena (grown as needed) so that a batch
// costs a few allocations, not several per record.
func appendApplyArgs(args [][]byte, arena *[]byte, op *Op) [][]byte {
	put := func(f func([]byte) []byte) []byte {
		start := len(*arena)
		*arena = f(*arena)
		return (*arena)[start:len(*arena):len(*arena)]
	}
	kind := put(func(b []byte) []byte { return append(b, byte(op.Kind)) })
	if op.Kind == OpInvalidateAll {
		return append(args, kind, put(op.Version.AppendText))
	}
	key := put(func(b []byte) []byte { return append(b, op.Key...) })
	if op.Kind != OpSet {
		return append(args, kind, key, put(op.Version.AppendText))
	}
	at := put(func(b []byte) []byte { return strconv.AppendInt(b, op.ExpireAt, 10) })
	return append(args, kind, key, op.Value, at, put(op.Version.AppendText))
}

// ParseApply parses the records of CACHE.APPLY (args without the command
// name).
func ParseApply(args [][]byte) ([]Op, error) {
	if len(args) == 0 {
		return nil, errors.New("no records")
	}
	ops := make([]Op, 0, len(args)/3)
	var last hlc.Version // the previous record's: its Node string is reused
	for i := 0; i < len(args); {
		if len(args[i]) != 1 {
			return nil, fmt.Errorf("record %d: kind %q: want S, D, I or A", len(ops)+1, quoteArg(args[i]))
		}
		kind := OpKind(args[i][0])
		var n int
		switch kind {
		case OpSet:
			n = 5
		case OpDel, OpInvalidate:
			n = 3
		case OpInvalidateAll:
			n = 2
		default:
			return nil, fmt.Errorf("record %d: kind %q: want S, D, I or A", len(ops)+1, quoteArg(args[i]))
		}
		if i+n > len(args) {
			return nil, fmt.Errorf("record %d (%c): want %d arguments, got %d", len(ops)+1, kind, n, len(args)-i)
		}
		op := Op{Kind: kind}
		rec := args[i : i+n]
		if err := hlc.ParseVersionInto(rec[n-1], &last); err != nil {
			return nil, fmt.Errorf("record %d: %w", len(ops)+1, err)
		}
		op.Version = last
		if kind != OpInvalidateAll {
			op.Key = string(rec[1])
		}
		if kind == OpSet {
			op.Value = rec[2]
			at, err := strconv.ParseInt(string(rec[3]), 10, 64)
			if err != nil || at < 0 || strconv.FormatInt(at, 10) != string(rec[3]) {
				return nil, fmt.Errorf("record %d: pexpireat %q: want Unix milliseconds, 0 for none", len(ops)+1, quoteArg(rec[3]))
			}
			op.ExpireAt = at
		}
		ops = append(ops, op)
		i += n
	}
	return ops, nil
}

// quoteArg is at most 64 bytes of an argument, for an error message.
func quoteArg(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

// appendDumpReply appends CACHE.DUMP's reply: next, then each entry's key,
// value, pexpireat and version.
func appendDumpReply(b []byte, ops []Op, next int) []byte {
	b = resp.AppendArray(b, 1+4*len(ops))
	b = resp.AppendBulkString(b, strconv.Itoa(next))
	for i := range ops {
		op := &ops[i]
		b = resp.AppendBulkString(b, op.Key)
		b = resp.AppendBulk(b, op.Value)
		b = resp.AppendBulkString(b, strconv.FormatInt(op.ExpireAt, 10))
		b = resp.AppendBulk(b, op.Version.AppendText(nil))
	}
	return b
}

// parseDump parses the elements of CACHE.DUMP's reply.
func parseDump(elems [][]byte) ([]Op, int, error) {
	if len(elems) == 0 || (len(elems)-1)%4 != 0 {
		return nil, 0, fmt.Errorf("dump: %d elements: want 1 + 4 per entry", len(elems))
	}
	next, err := strconv.Atoi(string(elems[0]))
	if err != nil || next < 0 || next >= numBuckets {
		return nil, 0, fmt.Errorf("dump: cursor %q", quoteArg(elems[0]))
	}
	args := make([][]byte, 0, (len(elems)-1)/4*5)
	for i := 1; i < len(elems); i += 4 {
		args = append(args, []byte{'S'}, elems[i], elems[i+1], elems[i+2], elems[i+3])
	}
	if len(args) == 0 {
		return nil, next, nil
	}
	ops, err := ParseApply(args)
	return ops, next, err
}
