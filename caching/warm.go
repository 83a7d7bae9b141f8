package caching

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"planet/internal/peer"
)

// Warm start limits.
const (
	warmDiscoveryWait = 5 * time.Second // for discovery to answer and list this cache
	warmPage          = 1000            // entries per CACHE.DUMP
)

// warmStart copies the entries of another cache of this region (with
// their TTLs and versions) before the cache answers clients. It first
// waits until discovery lists this cache and every peer has had time to
// see it, so that writes made from then on reach this cache directly and
// nothing falls between the copy and the replication. With no other cache
// in the region, or when the copy fails, the cache starts with what it
// has: writes from its peers arrive from now on, and reads of other keys
// miss until they are written again.
func (s *Server) warmStart(ctx context.Context) {
	s.repl.warm.Store("waiting for discovery")
	var sources []string
	deadline := time.Now().Add(warmDiscoveryWait)
	for {
		lctx, cancel := context.WithTimeout(ctx, time.Second)
		local, err := s.disc.ListLocal(lctx, ServiceName)
		cancel()
		listed := false
		sources = sources[:0]
		for _, in := range local {
			if in.Address == s.addr {
				listed = true
			} else if in.Address != "" {
				sources = append(sources, in.Address)
			}
		}
		if err == nil && listed || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	if len(sources) == 0 {
		s.repl.warm.Store("skipped: no other cache in region " + s.cfg.Region)
		s.log.Info("warm start: no other cache in this region; starting empty, with the writes from peers from now on",
			"region", s.cfg.Region)
		return
	}
	// Peers add this cache at their next read of discovery.
	select {
	case <-ctx.Done():
		return
	case <-time.After(s.cfg.PeerRefresh + 200*time.Millisecond):
	}
	for _, src := range sources {
		n, err := s.copyFrom(ctx, src)
		if err == nil {
			s.repl.warm.Store(fmt.Sprintf("done: %d entries from %s", n, src))
			return
		}
		s.log.Warn("warm start: copy failed", "from", src, "copied", n, "err", err)
	}
	s.repl.warm.Store("failed: starting with what was copied")
	s.log.Warn("warm start: no cache of this region could be copied; starting with what was copied", "sources", sources)
}

// copyFrom copies src's entries page by page, logging progress every
// second, and returns how many it copied.
func (s *Server) copyFrom(ctx context.Context, src string) (int, error) {
	cl := peer.New(src, s.repl.pc)
	defer cl.Close()
	s.repl.warm.Store("copying from " + src)
	s.log.Info("warm start: copying the entries of a cache of this region", "from", src)
	start, lastLog := time.Now(), time.Now()
	total, cursor := 0, 0
	for {
		rctx, cancel := context.WithTimeout(ctx, s.cfg.PeerTimeout)
		rep, err := cl.Do(rctx, []byte(dumpCommand), []byte(strconv.Itoa(cursor)), []byte(strconv.Itoa(warmPage)))
		cancel()
		if err != nil {
			return total, err
		}
		if rep.Kind != peer.KindArray {
			return total, fmt.Errorf("cache.dump: unexpected reply %v", rep.Kind)
		}
		elems := make([][]byte, len(rep.Array))
		for i, e := range rep.Array {
			elems[i] = e.Str
		}
		ops, next, err := parseDump(elems)
		if err != nil {
			return total, err
		}
		s.store.Load(ops)
		total += len(ops)
		if next == 0 {
			break
		}
		if time.Since(lastLog) >= time.Second {
			lastLog = time.Now()
			s.log.Info("warm start: copying", "from", src, "entries", total, "progress", fmt.Sprintf("%d%%", next*100/numBuckets))
		}
		cursor = next
	}
	s.log.Info("warm start: done", "from", src, "entries", total, "took", time.Since(start).Round(time.Millisecond))
	return total, nil
}
