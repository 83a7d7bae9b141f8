package caching

import (
	"context"
	"time"
)

// Eviction and active expiry, as Redis does them.
const (
	// evictionSamples is how many keys eviction samples (Redis's
	// maxmemory-samples).
	evictionSamples = 5
	// expireInterval is the period of the active expiry cycle (Redis's
	// hz 10).
	expireInterval = 100 * time.Millisecond
	// expireSamples is how many keys with a TTL a round samples.
	expireSamples = 20
	// expireRounds bounds the rounds of one cycle, so that a cycle that
	// finds many expired keys still ends (Redis bounds it by time).
	expireRounds = 64
)

// MaxMemory returns the memory limit in bytes (0: none).
func (s *Store) MaxMemory() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxMemory
}

// SetMaxMemory changes the memory limit (0: none). Eviction follows at
// the next command that may grow memory.
func (s *Store) SetMaxMemory(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxMemory = max(n, 0)
}

// Policy returns the eviction policy.
func (s *Store) Policy() Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.policy
}

// SetPolicy changes the eviction policy.
func (s *Store) SetPolicy(p Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policy = p
}

// makeRoom evicts entries per the policy until the memory used is at most
// the limit, and reports whether it is: a command that may grow memory
// runs only then.
func (tx *Tx) makeRoom() bool {
	s := tx.s
	for s.maxMemory > 0 && s.used > s.maxMemory {
		victim := s.victimLocked()
		if victim == nil {
			return false
		}
		s.dropLocked(victim, tx.now)
		s.stats.Evicted++
	}
	return true
}

// victimLocked returns the entry the policy evicts next, or nil if it
// evicts none.
func (s *Store) victimLocked() *entry {
	switch s.policy {
	case AllKeysLRU:
		return s.leastRecentlyUsedLocked(s.all)
	case VolatileLRU:
		return s.leastRecentlyUsedLocked(s.volatile)
	case AllKeysRandom:
		if len(s.all) == 0 {
			return nil
		}
		return s.all[s.rng.IntN(len(s.all))]
	}
	return nil
}

// leastRecentlyUsedLocked samples evictionSamples entries of from and
// returns the least recently used, or nil if from is empty.
func (s *Store) leastRecentlyUsedLocked(from []*entry) *entry {
	if len(from) == 0 {
		return nil
	}
	var best *entry
	for range evictionSamples {
		e := from[s.rng.IntN(len(from))]
		if best == nil || e.lastUsed < best.lastUsed {
			best = e
		}
	}
	return best
}

// ExpireCycle runs one cycle of active expiry at the current time: rounds
// that each sample expireSamples keys with a TTL and delete the expired
// ones, repeated while more than a quarter of a sample had expired, at
// most expireRounds times. It returns the number of keys deleted. The
// lock is released between rounds.
func (s *Store) ExpireCycle() int {
	total := 0
	for range expireRounds {
		n, sampled := s.expireRound(s.now().UnixMilli())
		total += n
		if sampled == 0 || n*4 <= sampled {
			break
		}
	}
	return total
}

// expireRound samples up to expireSamples keys with a TTL at random,
// deletes those expired at now, and returns how many it deleted and
// sampled.
func (s *Store) expireRound(now int64) (expired, sampled int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ; sampled < expireSamples && len(s.volatile) > 0; sampled++ {
		if e := s.volatile[s.rng.IntN(len(s.volatile))]; e.expireAt <= now {
			s.dropLocked(e, now)
			expired++
		}
	}
	if s.tombs != nil {
		s.forgetTombsLocked(now)
	}
	s.stats.Expired += int64(expired)
	return expired, sampled
}

// RunExpiry runs ExpireCycle every 100 ms until ctx is done.
func (s *Store) RunExpiry(ctx context.Context) {
	t := time.NewTicker(expireInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.ExpireCycle()
		}
	}
}
