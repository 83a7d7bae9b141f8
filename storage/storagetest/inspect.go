package storagetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"planet/internal/peer"
	pt "planet/internal/planettest"
	"planet/internal/secret"
)

// Client returns the harness's client of replica i (internal/peer's, with
// a short backoff so that it reaches a restarted replica soon), which
// authenticates as the platform if the replica has a secret, else with its
// Password, if any. The Region closes it when the test ends.
func (r *Region) Client(i int) *peer.Client {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := r.replicas[i]
	if rep.client == nil {
		pc := peer.Config{Conns: 1, IOTimeout: DoTimeout, Backoff: 10 * time.Millisecond, Password: rep.cfg.Password}
		if rep.cfg.Secret != nil {
			pc.Username, pc.Password = secret.PlatformUser, rep.cfg.Secret.RESPPassword()
		}
		rep.client = peer.New(rep.addr, pc)
	}
	return rep.client
}

// Do sends one command to replica i and returns its reply; an error reply
// is a *peer.ReplyError.
func (r *Region) Do(i int, args ...string) (peer.Reply, error) {
	ctx, cancel := context.WithTimeout(context.Background(), DoTimeout)
	defer cancel()
	b := make([][]byte, len(args))
	for j, a := range args {
		b[j] = []byte(a)
	}
	return r.Client(i).Do(ctx, b...)
}

// MustDo is Do that fails the test on an error (error replies included).
func (r *Region) MustDo(i int, args ...string) peer.Reply {
	r.tb.Helper()
	reply, err := r.Do(i, args...)
	if err != nil {
		r.tb.Fatalf("replica %d: %s: %v", i, strings.Join(args, " "), err)
	}
	return reply
}

// Entry is a replica's own copy of a key, as VGET reports it.
type Entry struct {
	Found   bool   // the replica holds a value or a tombstone
	Deleted bool   // a tombstone
	Value   string // "" for a tombstone
	Version string // in hlc.Version's text form
}

// VGet returns replica i's own copy of key, without a quorum.
func (r *Region) VGet(i int, key string) Entry {
	r.tb.Helper()
	reply := r.MustDo(i, "VGET", key)
	if reply.Kind == peer.KindNil {
		return Entry{}
	}
	if reply.Kind != peer.KindArray || len(reply.Array) != 2 {
		r.tb.Fatalf("replica %d: VGET %s: unexpected reply %v", i, key, reply)
	}
	e := Entry{Found: true, Version: string(reply.Array[1].Str)}
	if reply.Array[0].Kind == peer.KindNil {
		e.Deleted = true
	} else {
		e.Value = string(reply.Array[0].Str)
	}
	return e
}

// DBSize returns the live keys replica i holds.
func (r *Region) DBSize(i int) int64 {
	r.tb.Helper()
	return r.MustDo(i, "DBSIZE").Int
}

// Digest returns replica i's anti-entropy digest (REPL.DIGEST).
func (r *Region) Digest(i int) []byte {
	r.tb.Helper()
	return r.MustDo(i, "REPL.DIGEST").Str
}

// Peers returns the addresses of the replicas that replica i coordinates
// with (PEERS), sorted; nil with false if it does not answer.
func (r *Region) Peers(i int) ([]string, bool) {
	reply, err := r.Do(i, "PEERS")
	if err != nil || reply.Kind != peer.KindArray || len(reply.Array) != 8 {
		return nil, false
	}
	var addrs []string
	for _, a := range reply.Array[7].Array {
		addrs = append(addrs, string(a.Str))
	}
	slices.Sort(addrs)
	return addrs, true
}

// WaitPeers waits until replica i coordinates with n peers.
func (r *Region) WaitPeers(i, n int) {
	r.tb.Helper()
	pt.WaitFor(r.tb, WaitTimeout, fmt.Sprintf("replica %d to see %d peers", i, n), func() bool {
		addrs, ok := r.Peers(i)
		return ok && len(addrs) == n
	})
}

// WaitDiscovered waits until every running replica coordinates with
// exactly the other replicas that discovery lists.
func (r *Region) WaitDiscovered() {
	r.tb.Helper()
	for i := range r.replicas {
		if !r.Running(i) {
			continue
		}
		pt.WaitFor(r.tb, WaitTimeout, fmt.Sprintf("replica %d to see the replicas discovery lists", i), func() bool {
			want := slices.DeleteFunc(r.disc.Addrs("storage"), func(a string) bool { return a == r.Addr(i) })
			got, ok := r.Peers(i)
			return ok && slices.Equal(got, want)
		})
	}
}

// WaitConverged waits until every running replica reports the same
// anti-entropy digest: they hold the same keys at the same versions.
func (r *Region) WaitConverged() {
	r.tb.Helper()
	pt.WaitFor(r.tb, WaitTimeout, "every replica to hold the same digest", func() bool {
		var first []byte
		for i := range r.replicas {
			if !r.Running(i) {
				continue
			}
			d := r.Digest(i)
			if first == nil {
				first = d
			} else if !bytes.Equal(d, first) {
				return false
			}
		}
		return true
	})
}

// Metric returns one sample of replica i's /metrics, named as exposed
// (`storage_quorum_failures_total{op="write"}`); 0 if absent.
func (r *Region) Metric(i int, sample string) float64 {
	r.tb.Helper()
	s := r.Replica(i)
	if s == nil {
		r.tb.Fatalf("replica %d: metric %s: not running", i, sample)
	}
	resp, err := r.http.Get("http://" + s.AdminAddr() + "/metrics")
	if err != nil {
		r.tb.Fatalf("replica %d: metrics: %v", i, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	for _, line := range strings.Split(body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				r.tb.Fatalf("replica %d: metric %s: %v", i, sample, err)
			}
			return f
		}
	}
	return 0
}
