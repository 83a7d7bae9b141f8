package repl

import "planet/internal/hlc"

// KeyVersion is one entry of a digest bucket's listing (REPL.BUCKET): a
// key and the version of the entry a replica holds for it, tombstones
// included.
type KeyVersion struct {
	Key     []byte
	Version hlc.Version
	Deleted bool // only known for the local side
}

// PlanBucket decides the anti-entropy repair of one digest bucket from the
// local replica's listing (mine) and the peer's (theirs): the keys to pull
// (the peer's version is newer, or only the peer has the key) and to push
// (this replica's is newer, or only it has the key). A local tombstone
// that expired (past its grace period; expired may be nil) is not pushed,
// so that a purge is not undone; keys with the same version on both sides
// need nothing. It is pure: the caller does the I/O.
func PlanBucket(mine, theirs []KeyVersion, expired func(KeyVersion) bool) (pull, push [][]byte) {
	their := make(map[string]hlc.Version, len(theirs))
	for _, kv := range theirs {
		their[string(kv.Key)] = kv.Version
	}
	for _, kv := range mine {
		v, ok := their[string(kv.Key)]
		delete(their, string(kv.Key))
		switch {
		case ok && v == kv.Version:
		case ok && v.Newer(kv.Version):
			pull = append(pull, kv.Key)
		case kv.Deleted && expired != nil && expired(kv):
		default:
			push = append(push, kv.Key)
		}
	}
	for _, kv := range theirs {
		if _, left := their[string(kv.Key)]; left {
			pull = append(pull, kv.Key)
		}
	}
	return pull, push
}
