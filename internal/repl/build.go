package repl

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"planet/internal/hlc"
)

// The command names as arguments, shared by every command built.
var (
	argPut    = []byte(Put)
	argDel    = []byte(Del)
	argMPut   = []byte(MPut)
	argMDel   = []byte(MDel)
	argVGet   = []byte(VGet)
	argVVer   = []byte(VVer)
	argMVVer  = []byte(MVVer)
	argDigest = []byte(Digest)
	argBucket = []byte(Bucket)
)

// versionArg returns the text of v as a new argument.
func versionArg(v hlc.Version) []byte {
	return v.AppendText(make([]byte, 0, 32+len(v.Node)))
}

// AppendPut appends REPL.PUT key value version.
func AppendPut(args [][]byte, key, value []byte, v hlc.Version) [][]byte {
	return append(args, argPut, key, value, versionArg(v))
}

// AppendDel appends REPL.DEL key version.
func AppendDel(args [][]byte, key []byte, v hlc.Version) [][]byte {
	return append(args, argDel, key, versionArg(v))
}

// AppendMPut appends REPL.MPUT key value version: a merged put of one
// item, for peer.Client.GoMerged, which merges the items queued together
// into one REPL.MPUT. AppendItemArgs adds further items to it.
func AppendMPut(args [][]byte, key, value []byte, v hlc.Version) [][]byte {
	return append(args, argMPut, key, value, versionArg(v))
}

// AppendMDel appends REPL.MDEL key version, as AppendMPut.
func AppendMDel(args [][]byte, key []byte, v hlc.Version) [][]byte {
	return append(args, argMDel, key, versionArg(v))
}

// AppendItem appends the command that replicates it: REPL.PUT or REPL.DEL,
// or with merged, REPL.MPUT or REPL.MDEL. it.Err is ignored.
func AppendItem(args [][]byte, it Item, merged bool) [][]byte {
	switch {
	case it.Delete && merged:
		return AppendMDel(args, it.Key, it.Version)
	case it.Delete:
		return AppendDel(args, it.Key, it.Version)
	case merged:
		return AppendMPut(args, it.Key, it.Value, it.Version)
	}
	return AppendPut(args, it.Key, it.Value, it.Version)
}

// AppendItemArgs appends the arguments of it without a command name (key
// value version, or key version for a delete), to extend a REPL.MPUT or
// REPL.MDEL by an item.
func AppendItemArgs(args [][]byte, it Item) [][]byte {
	if it.Delete {
		return append(args, it.Key, versionArg(it.Version))
	}
	return append(args, it.Key, it.Value, versionArg(it.Version))
}

// AppendVGet appends VGET key.
func AppendVGet(args [][]byte, key []byte) [][]byte { return append(args, argVGet, key) }

// AppendVVer appends VVER key.
func AppendVVer(args [][]byte, key []byte) [][]byte { return append(args, argVVer, key) }

// AppendMVVer appends MVVER key: a merged VVER of one key, for
// peer.Client.GoMerged.
func AppendMVVer(args [][]byte, key []byte) [][]byte { return append(args, argMVVer, key) }

// AppendDigest appends REPL.DIGEST.
func AppendDigest(args [][]byte) [][]byte { return append(args, argDigest) }

// AppendBucket appends REPL.BUCKET bucket.
func AppendBucket(args [][]byte, bucket int) [][]byte {
	return append(args, argBucket, strconv.AppendInt(nil, int64(bucket), 10))
}

// ParseBucketArg parses REPL.BUCKET's argument: a decimal in [0, buckets).
// Its error's text, after "-ERR ", is the reply.
func ParseBucketArg(arg []byte, buckets int) (int, error) {
	b, err := strconv.Atoi(string(arg))
	if err != nil || b < 0 || b >= buckets {
		return 0, fmt.Errorf("bucket must be an integer in [0, %d)", buckets)
	}
	return b, nil
}

// DigestBuckets is the number of anti-entropy digest buckets: REPL.DIGEST's
// reply holds 8*DigestBuckets bytes and REPL.BUCKET's argument is below it.
// storage/engine.NumBuckets is the same number (internal/verify's tests
// check), so that a reader of digests need not import the engine.
const DigestBuckets = 1024

// AppendDigestBody appends the body of REPL.DIGEST's reply: each
// bucket's hash, 8 bytes big-endian, bucket 0 first.
func AppendDigestBody(dst []byte, hashes []uint64) []byte {
	for _, h := range hashes {
		dst = binary.BigEndian.AppendUint64(dst, h)
	}
	return dst
}

// ParseDigestBody decodes the body of REPL.DIGEST's reply into hashes,
// whose length is the number of buckets expected.
func ParseDigestBody(hashes []uint64, body []byte) error {
	if len(body) != 8*len(hashes) {
		return fmt.Errorf("repl: digest of %d bytes, want %d", len(body), 8*len(hashes))
	}
	for i := range hashes {
		hashes[i] = binary.BigEndian.Uint64(body[8*i:])
	}
	return nil
}
