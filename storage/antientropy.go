package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"planet/internal/hlc"
	"planet/internal/peer"
)

// maxBucketsPerRound bounds the buckets compared with one peer per round.
const maxBucketsPerRound = 64

// keyVersion is one entry of a digest bucket listing.
type keyVersion struct {
	key     []byte
	version hlc.Version
	deleted bool
}

// BucketEntries lists the keys and versions (tombstones included) of one
// anti-entropy digest bucket.
func (e *Engine) bucketEntries(bucket int) ([]keyVersion, error) {
	if err := e.Flush(); err != nil {
		return nil, err
	}
	from := bucket << digestShift
	it := e.db.NewIterator(e.iterRange(from, from+1<<digestShift), nil)
	defer it.Release()
	var out []keyVersion
	for it.Next() {
		key, _ := userKey(it.Key())
		ent, err := decodeEntry(it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, keyVersion{key: append([]byte(nil), key...), version: ent.Version, deleted: ent.Deleted})
	}
	return out, it.Error()
}

// encodeDigest is the REPL.DIGEST reply body: the buckets' hashes, 8 bytes
// each, big-endian.
func encodeDigest(d *[numBuckets]uint64) []byte {
	b := make([]byte, 0, 8*numBuckets)
	for _, h := range d {
		b = binary.BigEndian.AppendUint64(b, h)
	}
	return b
}

// diffBuckets returns the buckets whose hashes differ between a local digest
// and an encoded remote one.
func diffBuckets(local *[numBuckets]uint64, remote []byte) ([]int, error) {
	if len(remote) != 8*numBuckets {
		return nil, fmt.Errorf("digest of %d bytes, want %d", len(remote), 8*numBuckets)
	}
	var diff []int
	for i := range local {
		if local[i] != binary.BigEndian.Uint64(remote[8*i:]) {
			diff = append(diff, i)
		}
	}
	return diff, nil
}

// antiEntropy compares digests with every peer every AntiEntropyInterval
// (with jitter) and exchanges what differs.
func (s *Server) antiEntropy(ctx context.Context) error {
	if s.cfg.AntiEntropyInterval < 0 {
		return nil
	}
	for {
		jitter := time.Duration(rand.Int64N(int64(s.cfg.AntiEntropyInterval)/4 + 1))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(s.cfg.AntiEntropyInterval + jitter):
		}
		peers, _ := s.clients()
		for _, p := range peers {
			if !p.Available() {
				continue
			}
			if err := s.syncWith(ctx, p); err != nil && ctx.Err() == nil {
				s.log.Debug("storage: anti-entropy round failed", "peer", p.Addr(), "err", err)
			}
		}
	}
}

// syncWith runs one anti-entropy round with p: compare digests; for each
// differing bucket compare the key/version lists, pull what p has newer
// and push what this replica has newer.
func (s *Server) syncWith(ctx context.Context, p *peer.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	reply, err := p.Do(ctx, []byte("REPL.DIGEST"))
	if err != nil {
		return err
	}
	if reply.Kind != peer.KindBulk {
		return errors.New("REPL.DIGEST: want a bulk string")
	}
	local := s.eng.Digest()
	diff, err := diffBuckets(&local, reply.Str)
	if err != nil {
		return err
	}
	if len(diff) > maxBucketsPerRound {
		rand.Shuffle(len(diff), func(i, j int) { diff[i], diff[j] = diff[j], diff[i] })
		diff = diff[:maxBucketsPerRound]
	}
	for _, b := range diff {
		if err := s.syncBucket(ctx, p, b); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) syncBucket(ctx context.Context, p *peer.Client, bucket int) error {
	reply, err := p.Do(ctx, []byte("REPL.BUCKET"), []byte(fmt.Sprint(bucket)))
	if err != nil {
		return err
	}
	remote, err := parseBucket(reply)
	if err != nil {
		return err
	}
	mine, err := s.eng.bucketEntries(bucket)
	if err != nil {
		return err
	}
	theirs := make(map[string]hlc.Version, len(remote))
	for _, kv := range remote {
		theirs[string(kv.key)] = kv.version
	}
	now := s.cfg.Now()
	grace := s.cfg.Engine.TombstoneGrace
	for _, kv := range mine {
		v, ok := theirs[string(kv.key)]
		delete(theirs, string(kv.key))
		switch {
		case ok && v == kv.version:
		case ok && v.Newer(kv.version):
			s.pull(ctx, p, kv.key)
		case kv.deleted && tombstoneExpired(kv.version, now, grace):
		default:
			if s.handOff(ctx, p, kv.key) {
				s.metrics.antiEntropy.Inc("push")
			}
		}
	}
	for k := range theirs {
		s.pull(ctx, p, []byte(k))
	}
	return nil
}

// pull copies key's entry from p if it is newer than the local one.
func (s *Server) pull(ctx context.Context, p *peer.Client, key []byte) {
	r := s.fetch(ctx, p, key)
	if !r.ok || !r.found {
		return
	}
	if r.entry.Deleted && tombstoneExpired(r.entry.Version, s.cfg.Now(), s.cfg.Engine.TombstoneGrace) {
		return
	}
	m := Mutation{Key: key, Value: r.entry.Value, Version: r.entry.Version, Origin: r.entry.Origin, Delete: r.entry.Deleted}
	if res := s.eng.Apply(ctx, m); res.Err == nil && res.Applied {
		s.clock.Observe(m.Version)
		s.metrics.antiEntropy.Inc("pull")
	}
}

// parseBucket decodes a REPL.BUCKET reply: [key, version, ...].
func parseBucket(r peer.Reply) ([]keyVersion, error) {
	if r.Kind != peer.KindArray || len(r.Array)%2 != 0 {
		return nil, errors.New("REPL.BUCKET: want [key, version, ...]")
	}
	out := make([]keyVersion, 0, len(r.Array)/2)
	for i := 0; i < len(r.Array); i += 2 {
		v, err := hlc.ParseVersion(r.Array[i+1].Str)
		if err != nil {
			return nil, fmt.Errorf("REPL.BUCKET: %w", err)
		}
		out = append(out, keyVersion{key: r.Array[i].Str, version: v})
	}
	return out, nil
}
