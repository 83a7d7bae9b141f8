package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	pt "planet/internal/planettest"
)

// The redis systems of the storage benchmark, and the go-redis connection
// that drives them and Planet.

// startRedisSingle starts one redis-server with an fsynced append-only
// file, as durable as Planet's durability=always but not replicated.
func startRedisSingle(tb testing.TB) *benchSystem {
	d, addr := startRedis(tb, "redis-server")
	return &benchSystem{
		pids: []int{d.pid()},
		dial: func(int) kvConn { return newRedisConn(addr, 0) },
		stop: d.stop,
	}
}

// startRedisTrio starts a redis-server primary with two replicas, each with
// an fsynced append-only file, and waits until both replicas are in sync.
// Clients talk to the primary; each SET waits until one replica has it too
// (WAIT 1 0), so two of the three hold it, as Planet's W=2.
func startRedisTrio(tb testing.TB) *benchSystem {
	primary, addr := startRedis(tb, "redis primary", "--repl-diskless-sync-delay", "0")
	host, port, _ := net.SplitHostPort(addr)
	r1, _ := startRedis(tb, "redis replica 1", "--replicaof", host, port)
	r2, _ := startRedis(tb, "redis replica 2", "--replicaof", host, port)
	waitReplicasOnline(tb, addr, 2, primary, r1, r2)
	return &benchSystem{
		pids: []int{primary.pid(), r1.pid(), r2.pid()},
		dial: func(int) kvConn { return newRedisConn(addr, 1) },
		stop: func() { primary.stop(); r1.stop(); r2.stop() },
	}
}

// startRedis starts one redis-server on a free loopback port with
// appendonly yes and appendfsync always (and extra flags), and waits until
// it answers PING.
func startRedis(tb testing.TB, name string, extra ...string) (*daemon, string) {
	tb.Helper()
	path := requireBinary(tb, "redis-server", "redis-server")
	port := pt.FreePort(tb, "127.0.0.1")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", tb.TempDir(),
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
		"--loglevel", "warning"}, extra...)
	d := startDaemon(tb, name, path, args...)
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, MaxRetries: -1, DisableIdentity: true})
	defer c.Close()
	pt.WaitFor(tb, 10*time.Second, name+" to answer PING", func() bool {
		d.alive(tb)
		return c.Ping(context.Background()).Err() == nil
	})
	return d, addr
}

// waitReplicasOnline polls the primary's INFO replication until it reports
// n connected replicas, all past their initial sync (state=online).
func waitReplicasOnline(tb testing.TB, primary string, n int, ds ...*daemon) {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: primary, Protocol: 2, MaxRetries: -1, DisableIdentity: true})
	defer c.Close()
	want := fmt.Sprintf("connected_slaves:%d", n)
	pt.WaitFor(tb, 30*time.Second, fmt.Sprintf("the redis primary to report %d replicas online", n), func() bool {
		for _, d := range ds {
			d.alive(tb)
		}
		info, err := c.Info(context.Background(), "replication").Result()
		if err != nil {
			return false
		}
		connected, online := false, 0
		for _, line := range strings.Split(info, "\r\n") {
			connected = connected || line == want
			if strings.HasPrefix(line, "slave") && strings.Contains(line, "state=online") {
				online++
			}
		}
		return connected && online == n
	})
}

// redisVersion returns redis-server's version ("7.0.15"), or "?".
func redisVersion() string {
	out, _ := exec.Command("redis-server", "--version").Output()
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return v
		}
	}
	return "?"
}

// redisConn is one client's go-redis connection (a pool of one) to Planet
// or redis-server.
type redisConn struct {
	c *redis.Client
	// wait, when above 0, sends each SET in one pipeline (one round trip)
	// with WAIT wait 0, which returns once wait replicas acknowledged it.
	wait int
}

var _ kvConn = (*redisConn)(nil)

func newRedisConn(addr string, wait int) *redisConn {
	return &redisConn{wait: wait, c: redis.NewClient(&redis.Options{
		Addr: addr, Protocol: 2, DisableIdentity: true,
		PoolSize: 1, PipelinePoolSize: -1, // one connection, pipelines included
		MaxRetries:  -1, // a failed op is an error, not a hidden retry
		DialTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
	})}
}

func (r *redisConn) Set(ctx context.Context, key, value string) error {
	if r.wait == 0 {
		return r.c.Set(ctx, key, value, 0).Err()
	}
	pipe := r.c.Pipeline()
	pipe.Set(ctx, key, value, 0)
	acked := pipe.Do(ctx, "WAIT", r.wait, 0) // Pipeliner has no Wait method
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	if n, err := acked.Int64(); err != nil || n < int64(r.wait) {
		return fmt.Errorf("WAIT %d 0: %d replicas acknowledged (%v)", r.wait, n, err)
	}
	return nil
}

func (r *redisConn) Get(ctx context.Context, key string) (string, bool, error) {
	v, err := r.c.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	return v, err == nil, err
}

func (r *redisConn) Close() error { return r.c.Close() }
