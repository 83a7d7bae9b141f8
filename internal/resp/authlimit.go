package resp

import (
	"context"
	"sync"
	"time"
)

// The rate limit of failed AUTH attempts, per remote IP.
const (
	// authFailureInterval is the sustained rate: 10 failures a second.
	authFailureInterval = 100 * time.Millisecond
	// authFailureBurst failures may come at once before the rate applies.
	authFailureBurst = 20
	// authMaxWait is the longest an attempt waits for its turn; beyond
	// it, the connection is closed unchecked.
	authMaxWait = time.Second
	// authLogInterval spaces the log lines about one IP.
	authLogInterval = time.Second
	// authMaxTracked bounds the IPs tracked; beyond it, IPs share one
	// bucket until those that recovered are dropped.
	authMaxTracked = 4096
)

// authLimiter rate-limits failed AUTH attempts per remote IP with a token
// bucket, kept as a GCRA "theoretical arrival time": each failure moves it
// one interval later, and it never lags now. From an IP whose failures
// exceed the burst, every attempt (right passwords too, or the timing of
// the replies would tell them apart) waits for its turn before the
// password is checked, so that an IP gets at most the rate of checks
// however many connections it opens; an attempt that would wait more than
// maxWait is refused and its connection closed.
type authLimiter struct {
	interval time.Duration
	burst    time.Duration // burst × interval
	maxWait  time.Duration
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error

	mu  sync.Mutex
	ips map[string]*ipFailures // guarded by mu
}

type ipFailures struct {
	tat      time.Time // the next failure's theoretical arrival time
	unlogged int       // failures since the last log line
	logged   time.Time // when the last line was logged
}

// sharedIP is the key of IPs beyond authMaxTracked.
const sharedIP = "*"

func newAuthLimiter() *authLimiter {
	return &authLimiter{
		interval: authFailureInterval,
		burst:    authFailureBurst * authFailureInterval,
		maxWait:  authMaxWait,
		now:      time.Now,
		sleep:    sleepCtx,
		ips:      make(map[string]*ipFailures),
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// admit decides an attempt from ip: check it now (0, true), after wait
// (wait, true; the wait is charged as a failure), or not at all (false).
func (l *authLimiter) admit(ip string) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := l.lookupLocked(ip)
	if f == nil {
		return 0, true
	}
	next := later(f.tat, now).Add(l.interval)
	wait = next.Sub(now) - l.burst
	switch {
	case wait <= 0:
		return 0, true
	case wait > l.maxWait:
		return 0, false
	}
	f.tat = next
	return wait, true
}

// failed records a failed attempt from ip (charged: admit already charged
// it) and returns whether to log it, with the failures since the last line.
func (l *authLimiter) failed(ip string, charged bool) (failures int, log bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := l.lookupLocked(ip)
	if f == nil {
		f = l.addLocked(ip, now)
	}
	if !charged {
		f.tat = later(f.tat, now).Add(l.interval)
	}
	f.unlogged++
	if !f.logged.IsZero() && now.Sub(f.logged) < authLogInterval {
		return 0, false
	}
	failures, f.unlogged, f.logged = f.unlogged, 0, now
	return failures, true
}

func (l *authLimiter) lookupLocked(ip string) *ipFailures {
	if f := l.ips[ip]; f != nil {
		return f
	}
	if len(l.ips) >= authMaxTracked {
		return l.ips[sharedIP]
	}
	return nil
}

// addLocked tracks ip, first dropping the IPs that recovered if the table
// is full, else sharing sharedIP's entry.
func (l *authLimiter) addLocked(ip string, now time.Time) *ipFailures {
	if len(l.ips) >= authMaxTracked {
		for k, f := range l.ips {
			if !f.tat.After(now) && now.Sub(f.logged) >= authLogInterval {
				delete(l.ips, k)
			}
		}
	}
	if len(l.ips) >= authMaxTracked {
		ip = sharedIP
		if f := l.ips[ip]; f != nil {
			return f
		}
	}
	f := &ipFailures{tat: now}
	l.ips[ip] = f
	return f
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
