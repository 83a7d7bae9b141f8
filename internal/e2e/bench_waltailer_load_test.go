package e2e

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// writeLoad is an open-loop load: write i of n is due at start + i/rate,
// whatever the answers to the earlier ones. tailerWriters connections
// spread over sfo's replicas take the due writes; a connection that is
// free pipelines every write that is due (up to tailerPipeline), so that
// the writes in flight grow with the latency instead of waiting.
type writeLoad struct {
	rate, n, every int
	prefix         string
	values         []string
	sampled        func(lagSample) // every every-th write, once acknowledged

	start    time.Time
	lat      []time.Duration // by write
	elapsed  time.Duration
	acked    atomic.Int64
	failed   atomic.Int64
	errOnce  sync.Once
	firstErr error
}

type lagSample struct {
	key string
	ok  time.Time // the write's OK in sfo
}

func (l *writeLoad) run(addrs []string) {
	l.lat = make([]time.Duration, l.n)
	due := make(chan int, l.n) // never full: the load does not wait for answers
	var wg sync.WaitGroup
	for w := range tailerWriters {
		c := newRedisConn(addrs[w%len(addrs)], 0).c
		wg.Go(func() {
			defer c.Close()
			for i := range due {
				l.send(c, takeDue(due, i))
			}
		})
	}
	l.start = time.Now()
	for issued := 0; issued < l.n; time.Sleep(tailerTick) {
		for now := min(l.n, int(time.Since(l.start).Seconds()*float64(l.rate))+1); issued < now; issued++ {
			due <- issued
		}
	}
	close(due)
	wg.Wait()
	l.elapsed = time.Since(l.start)
}

// takeDue returns write first and the writes due after it, up to
// tailerPipeline in all, without waiting.
func takeDue(due chan int, first int) []int {
	out := []int{first}
	for len(out) < tailerPipeline {
		select {
		case i, ok := <-due:
			if !ok {
				return out
			}
			out = append(out, i)
		default:
			return out
		}
	}
	return out
}

// send writes ids in one pipeline.
func (l *writeLoad) send(c *redis.Client, ids []int) {
	ctx := context.Background()
	pipe := c.Pipeline()
	cmds := make([]*redis.StatusCmd, len(ids))
	for k, i := range ids {
		cmds[k] = pipe.Set(ctx, tailerKey(l.prefix, i), l.values[i%len(l.values)], 0)
	}
	pipe.Exec(ctx) // errors are the commands'
	ok := time.Now()
	for k, cmd := range cmds {
		i := ids[k]
		l.lat[i] = ok.Sub(l.start.Add(time.Duration(i) * time.Second / time.Duration(l.rate)))
		if err := cmd.Err(); err != nil {
			l.failed.Add(1)
			l.errOnce.Do(func() { l.firstErr = fmt.Errorf("SET %s: %w", tailerKey(l.prefix, i), err) })
			continue
		}
		l.acked.Add(1)
		if i%l.every == 0 {
			l.sampled(lagSample{key: tailerKey(l.prefix, i), ok: ok})
		}
	}
}

// lagWatcher polls one remote region for the sampled keys: every
// lagPollInterval while keys are pending, one pipeline of VGETs to each
// replica, of the keys it was not seen holding yet. A key is readable
// once two of the three replicas hold it (W=2): from then on every quorum
// GET (R=2) there returns it. Its lag is from its OK in sfo until that
// poll's answer.
type lagWatcher struct {
	region  string
	in      chan lagSample // closed when the load is over
	clients []*redis.Client

	lags          []time.Duration
	missing       int // not readable within lagDeadline
	rounds, vgets int
	errors        int // VGETs that failed (not "no such key")
	firstErr      error
}

type pendingKey struct {
	lagSample
	held     []bool // by replica
	n        int    // replicas seen holding it
	readable time.Time
}

func (w *lagWatcher) run() {
	defer closeAll(w.clients)
	var pending []*pendingKey
	for open := true; open || len(pending) > 0; {
		if len(pending) == 0 {
			s, ok := <-w.in
			if !ok {
				return
			}
			pending = append(pending, w.pending(s))
		}
		pending, open = w.take(pending, open)
		round := time.Now()
		w.poll(pending[:min(len(pending), lagPollKeys)])
		pending = w.retire(pending)
		time.Sleep(pollInterval(pending) - time.Since(round))
	}
}

// pollInterval is lagPollInterval, or a twentieth of the oldest pending
// key's age (at most lagPollMax) when the region is far behind: the
// polling costs the system little whatever the lag, and measures it to
// within 5%.
func pollInterval(pending []*pendingKey) time.Duration {
	if len(pending) == 0 {
		return 0
	}
	return min(max(lagPollInterval, time.Since(pending[0].ok)/20), lagPollMax)
}

func (w *lagWatcher) pending(s lagSample) *pendingKey {
	return &pendingKey{lagSample: s, held: make([]bool, len(w.clients))}
}

// take adds the samples that arrived, without waiting; open is false
// once the load is over.
func (w *lagWatcher) take(pending []*pendingKey, open bool) ([]*pendingKey, bool) {
	for open {
		select {
		case s, ok := <-w.in:
			if !ok {
				return pending, false
			}
			pending = append(pending, w.pending(s))
		default:
			return pending, true
		}
	}
	return pending, false
}

// poll asks each replica, in one pipeline, for the pending keys it was
// not seen holding yet.
func (w *lagWatcher) poll(pending []*pendingKey) {
	ctx := context.Background()
	for r, c := range w.clients {
		pipe := c.Pipeline()
		var asked []*pendingKey
		var cmds []*redis.Cmd
		for _, p := range pending {
			if !p.held[r] {
				asked = append(asked, p)
				cmds = append(cmds, pipe.Do(ctx, "VGET", p.key))
			}
		}
		if len(cmds) == 0 {
			continue
		}
		pipe.Exec(ctx) // errors are the commands'
		at := time.Now()
		w.rounds++
		w.vgets += len(cmds)
		for k, cmd := range cmds {
			if err := cmd.Err(); err != nil {
				if !errors.Is(err, redis.Nil) {
					w.errors++
					w.firstErr = cmp.Or(w.firstErr, err)
				}
				continue
			}
			p := asked[k]
			p.held[r] = true
			if p.n++; p.n == 2 {
				p.readable = at
			}
		}
	}
}

// retire takes the keys that became readable, or never will, out of
// pending.
func (w *lagWatcher) retire(pending []*pendingKey) []*pendingKey {
	kept := pending[:0]
	for _, p := range pending {
		switch {
		case !p.readable.IsZero():
			w.lags = append(w.lags, p.readable.Sub(p.ok))
		case time.Since(p.ok) > lagDeadline:
			w.missing++
		default:
			kept = append(kept, p)
		}
	}
	return kept
}
