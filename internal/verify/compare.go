package verify

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
)

// replicaState is what one replica answered in a comparison.
type replicaState struct {
	Target
	keys   int64
	digest []uint64 // nil when err is set
	err    error
}

// bucketListing is one replica's REPL.BUCKET listing of a bucket.
type bucketListing struct {
	address  string
	versions map[string]string // version text by key
}

// compare builds the report of one comparison from the replicas' states,
// which are in report order. The reference is the digest the most
// replicas hold (reference); a replica agrees iff it answered and holds
// the reference.
func compare(states []replicaState) *Report {
	r := &Report{Replicas: make([]Replica, len(states)), DifferingBuckets: []int{}, Samples: []Sample{}}
	ref := reference(states)
	if ref != nil {
		r.Reference = digestHash(ref)
	}
	differ := make(map[int]bool)
	for i, s := range states {
		rep := Replica{Region: s.Region, Address: s.Address}
		if s.err != nil {
			rep.Error = s.err.Error()
			r.Replicas[i] = rep
			continue
		}
		rep.Keys, rep.Digest = s.keys, digestHash(s.digest)
		rep.DifferingBuckets = diffDigests(s.digest, ref)
		rep.Agrees = len(rep.DifferingBuckets) == 0
		for _, b := range rep.DifferingBuckets {
			differ[b] = true
		}
		r.Replicas[i] = rep
	}
	r.DifferingBuckets = append(r.DifferingBuckets, slices.Sorted(maps.Keys(differ))...)
	return r
}

// reference returns the digest that the most replicas that answered hold;
// of digests held by equally many, the first replica's. Nil if none
// answered.
func reference(states []replicaState) []uint64 {
	var best []uint64
	bestN := 0
	for i, s := range states {
		if s.err != nil {
			continue
		}
		n := 0 // the first holder of a digest counts every holder
		for _, t := range states[i:] {
			if t.err == nil && slices.Equal(s.digest, t.digest) {
				n++
			}
		}
		if n > bestN {
			best, bestN = s.digest, n
		}
	}
	return best
}

// diffDigests returns the buckets whose hashes differ between d and ref,
// ascending; a bucket that only one of them has differs.
func diffDigests(d, ref []uint64) []int {
	var diff []int
	for b := range max(len(d), len(ref)) {
		if b >= len(d) || b >= len(ref) || d[b] != ref[b] {
			diff = append(diff, b)
		}
	}
	return diff
}

// digestHash is the short form of a digest shown to operators: the 64-bit
// FNV-1a hash of its REPL.DIGEST body, in 16 hex digits.
func digestHash(d []uint64) string {
	h := fnv.New64a()
	var b [8]byte
	for _, x := range d {
		binary.BigEndian.PutUint64(b[:], x)
		h.Write(b[:])
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// diffBucket returns, in key order, up to limit samples of the keys of
// bucket whose versions are not the same in every listing (a key missing
// from a listing is Absent there).
func diffBucket(bucket int, listings []bucketListing, limit int) []Sample {
	keys := make(map[string]bool)
	for _, l := range listings {
		for k := range l.versions {
			keys[k] = true
		}
	}
	var out []Sample
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if len(out) >= limit {
			break
		}
		s := Sample{Bucket: bucket, Key: k, Versions: make(map[string]string, len(listings))}
		same := true
		for _, l := range listings {
			v, ok := l.versions[k]
			if !ok {
				v = Absent
			}
			s.Versions[l.address] = v
			same = same && v == s.Versions[listings[0].address]
		}
		if !same {
			out = append(out, s)
		}
	}
	return out
}
