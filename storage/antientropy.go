package storage

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"planet/internal/peer"
	"planet/internal/repl"
	"planet/internal/repl/decode"
	"planet/storage/engine"
)

// maxBucketsPerRound bounds the buckets compared with one peer per round.
const maxBucketsPerRound = 64

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
	reply, err := p.Do(ctx, repl.AppendDigest(nil)...)
	if err != nil {
		return err
	}
	if reply.Kind != peer.KindBulk {
		return errors.New("REPL.DIGEST: want a bulk string")
	}
	var remote [engine.NumBuckets]uint64
	if err := repl.ParseDigestBody(remote[:], reply.Str); err != nil {
		return err
	}
	local := s.eng.Digest()
	diff := engine.DiffDigests(&local, &remote)
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
	reply, err := p.Do(ctx, repl.AppendBucket(nil, bucket)...)
	if err != nil {
		return err
	}
	remote, err := decode.Bucket(reply)
	if err != nil {
		return err
	}
	mine, err := s.eng.BucketEntries(bucket)
	if err != nil {
		return err
	}
	now, grace := s.cfg.Now(), s.cfg.Engine.TombstoneGrace
	pull, push := repl.PlanBucket(mine, remote, func(kv repl.KeyVersion) bool {
		return engine.TombstoneExpired(kv.Version, now, grace)
	})
	for _, k := range pull {
		s.pull(ctx, p, k)
	}
	for _, k := range push {
		if s.handOff(ctx, p, k) {
			s.metrics.antiEntropy.Inc("push")
		}
	}
	return nil
}

// pull copies key's entry from p if it is newer than the local one.
func (s *Server) pull(ctx context.Context, p *peer.Client, key []byte) {
	r := s.fetch(ctx, p, key)
	if !r.ok || !r.found {
		return
	}
	if r.entry.Deleted && engine.TombstoneExpired(r.entry.Version, s.cfg.Now(), s.cfg.Engine.TombstoneGrace) {
		return
	}
	m := engine.Mutation{Key: key, Value: r.entry.Value, Version: r.entry.Version, Origin: r.entry.Origin, Delete: r.entry.Deleted}
	if res := s.eng.Apply(ctx, m); res.Err == nil && res.Applied {
		s.clock.Observe(m.Version)
		s.metrics.antiEntropy.Inc("pull")
	}
}
