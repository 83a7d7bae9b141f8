package peer

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
)

// BenchmarkPing compares Client.Do with go-redis's plain Client.Do (one
// command per round trip, a pool of 10 connections per CPU) and, for
// reference, go-redis's experimental AutoPipeliner, all sending PING to
// one redis-server from many goroutines.
func BenchmarkPing(b *testing.B) {
	srv := startRedis(b)
	goRedisOptions := func() *redis.Options {
		return &redis.Options{Addr: srv.addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1}
	}
	for _, parallelism := range []int{1, 32} {
		opsPerSec := map[string]float64{}
		b.Run(fmt.Sprintf("goroutines=%dxGOMAXPROCS", parallelism), func(b *testing.B) {
			b.Run("peer", func(b *testing.B) {
				c := New(srv.addr, Config{})
				defer c.Close()
				ping := [][]byte{[]byte("PING")}
				opsPerSec["peer"] = benchParallel(b, parallelism, func(ctx context.Context) error {
					_, err := c.Do(ctx, ping...)
					return err
				})
				b.ReportMetric(float64(c.commands.Load())/float64(c.pipelines.Load()), "cmds/pipeline")
			})
			b.Run("go-redis", func(b *testing.B) {
				rdb := redis.NewClient(goRedisOptions())
				defer rdb.Close()
				opsPerSec["go-redis"] = benchParallel(b, parallelism, func(ctx context.Context) error {
					return rdb.Do(ctx, "PING").Err()
				})
			})
			b.Run("go-redis-autopipeline", func(b *testing.B) {
				rdb := redis.NewClient(goRedisOptions())
				defer rdb.Close()
				ap, err := rdb.AutoPipeline()
				if err != nil {
					b.Fatal(err)
				}
				defer ap.Close()
				opsPerSec["go-redis-autopipeline"] = benchParallel(b, parallelism, func(ctx context.Context) error {
					return ap.Do(ctx, "PING").Err()
				})
			})
		})
		b.Logf("%d goroutines per CPU: peer %.0f ops/s, go-redis %.0f ops/s (peer %.2fx), go-redis autopipeline %.0f ops/s",
			parallelism, opsPerSec["peer"], opsPerSec["go-redis"], opsPerSec["peer"]/opsPerSec["go-redis"],
			opsPerSec["go-redis-autopipeline"])
	}
}

// benchParallel runs op b.N times from parallelism goroutines per CPU,
// reports ops/s and returns it.
func benchParallel(b *testing.B, parallelism int, op func(context.Context) error) float64 {
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if err := op(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	ops := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(ops, "ops/s")
	return ops
}
