package caching

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"planet/internal/hlc"
	"planet/internal/resp"
)

// The internal commands between caches. Only a connection authenticated
// as the platform may send them (resp.FlagInternal).
//
//	CACHE.APPLY records [records ...]    -> +OK
//
// applies the records of each argument, each iff newer (Store.Apply).
// An argument is records back to back, each
//
//	kind  byte        'S' set, 'D' deleted, 'I' invalidated, 'A' all invalidated
//	key   uvarint length, bytes        (not for A)
//	value uvarint length, bytes        (S only)
//	pexpireat uvarint                  (S only; Unix milliseconds, 0: none)
//	version: uvarint HLC time, uvarint node length, node bytes
//
// A compact form rather than one RESP argument per field: a batch of 512
// records is one bulk string to parse, with no allocation per field on
// either side. A batch with a malformed record is refused whole: -ERR,
// nothing applied.
//
//	CACHE.DUMP cursor count          -> [next-cursor, key, value, pexpireat, version, ...]
//
// returns the live entries of whole buckets from cursor on, at least count
// of them unless the last bucket is reached (next-cursor 0): what a warm
// start copies. The version is in hlc's text form.
const (
	applyCommand = "cache.apply"
	dumpCommand  = "cache.dump"
)

// appendRecord appends the encoding of one record to b.
func appendRecord(b []byte, kind OpKind, key string, value []byte, expireAt int64, v hlc.Version) []byte {
	b = append(b, byte(kind))
	if kind != OpInvalidateAll {
		b = binary.AppendUvarint(b, uint64(len(key)))
		b = append(b, key...)
	}
	if kind == OpSet {
		b = binary.AppendUvarint(b, uint64(len(value)))
		b = append(b, value...)
		b = binary.AppendUvarint(b, uint64(expireAt))
	}
	b = binary.AppendUvarint(b, v.Time)
	b = binary.AppendUvarint(b, uint64(len(v.Node)))
	return append(b, v.Node...)
}

// appendOp appends the encoding of op to b.
func appendOp(b []byte, op *Op) []byte {
	return appendRecord(b, op.Kind, op.Key, op.Value, op.ExpireAt, op.Version)
}

// recordView is one decoded record; Key and Value alias the encoding.
type recordView struct {
	Kind     OpKind
	Key      []byte
	Value    []byte
	ExpireAt int64
	Version  hlc.Version
}

// recordReader decodes records one by one, without allocating but for a
// version's node when it differs from the previous record's.
type recordReader struct {
	b    []byte
	n    int // records read
	node string
}

var errTruncated = errors.New("truncated")

// next decodes the next record into r; false at the end of the input or
// on an error (see err).
func (rr *recordReader) next(r *recordView) (bool, error) {
	if len(rr.b) == 0 {
		return false, nil
	}
	rr.n++
	fail := func(what string, err error) (bool, error) {
		return false, fmt.Errorf("record %d: %s: %w", rr.n, what, err)
	}
	r.Kind = OpKind(rr.b[0])
	rr.b = rr.b[1:]
	switch r.Kind {
	case OpSet, OpDel, OpInvalidate, OpInvalidateAll:
	default:
		return fail("kind", fmt.Errorf("%q: want S, D, I or A", byte(r.Kind)))
	}
	r.Key, r.Value, r.ExpireAt = nil, nil, 0
	var err error
	if r.Kind != OpInvalidateAll {
		if r.Key, err = rr.bytes(); err != nil {
			return fail("key", err)
		}
	}
	if r.Kind == OpSet {
		if r.Value, err = rr.bytes(); err != nil {
			return fail("value", err)
		}
		at, err := rr.uvarint()
		if err != nil || at > 1<<62 {
			return fail("pexpireat", errors.Join(err, errors.New("want Unix milliseconds")))
		}
		r.ExpireAt = int64(at)
	}
	if r.Version.Time, err = rr.uvarint(); err != nil {
		return fail("version time", err)
	}
	node, err := rr.bytes()
	if err != nil {
		return fail("version node", err)
	}
	if rr.node == "" || string(node) != rr.node {
		if err := hlc.ValidNode(string(node)); err != nil {
			return fail("version node", err)
		}
		rr.node = string(node)
	}
	r.Version.Node = rr.node
	return true, nil
}

func (rr *recordReader) uvarint() (uint64, error) {
	v, n := binary.Uvarint(rr.b)
	if n <= 0 {
		return 0, errTruncated
	}
	rr.b = rr.b[n:]
	return v, nil
}

func (rr *recordReader) bytes() ([]byte, error) {
	n, err := rr.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(rr.b)) {
		return nil, errTruncated
	}
	b := rr.b[:n:n]
	rr.b = rr.b[n:]
	return b, nil
}

// checkRecords reports the first malformed record of the arguments of
// CACHE.APPLY, and counts them.
func checkRecords(blobs [][]byte) (int, error) {
	n := 0
	for _, b := range blobs {
		rr := recordReader{b: b}
		var r recordView
		for {
			ok, err := rr.next(&r)
			if err != nil {
				return n, err
			}
			if !ok {
				break
			}
			n++
		}
	}
	return n, nil
}

// DecodeRecords returns the records of one argument of CACHE.APPLY as
// Ops.
func DecodeRecords(b []byte) ([]Op, error) {
	rr := recordReader{b: b}
	var ops []Op
	var r recordView
	for {
		ok, err := rr.next(&r)
		if err != nil {
			return nil, err
		}
		if !ok {
			return ops, nil
		}
		ops = append(ops, Op{Kind: r.Kind, Key: string(r.Key), Value: r.Value, ExpireAt: r.ExpireAt, Version: r.Version})
	}
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
	ops := make([]Op, 0, (len(elems)-1)/4)
	for i := 1; i < len(elems); i += 4 {
		at, err := strconv.ParseInt(string(elems[i+2]), 10, 64)
		if err != nil || at < 0 {
			return nil, 0, fmt.Errorf("dump: entry %q: pexpireat %q", quoteArg(elems[i]), quoteArg(elems[i+2]))
		}
		v, err := hlc.ParseVersion(elems[i+3])
		if err != nil {
			return nil, 0, fmt.Errorf("dump: entry %q: %w", quoteArg(elems[i]), err)
		}
		ops = append(ops, Op{Kind: OpSet, Key: string(elems[i]), Value: elems[i+1], ExpireAt: at, Version: v})
	}
	return ops, next, nil
}
