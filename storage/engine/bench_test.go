package engine

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"planet/internal/hlc"
)

// BenchmarkEngineApply: concurrent writers through the committer (group
// commit), per durability setting.
func BenchmarkEngineApply(b *testing.B) {
	for _, d := range []Durability{DurabilityAlways, DurabilityNever} {
		b.Run(d.String(), func(b *testing.B) {
			e := openTest(b, Config{Durability: d})
			value := make([]byte, 256)
			var n atomic.Uint64
			b.ReportAllocs()
			b.SetParallelism(16) // many writers per core, as a busy replica has
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					m := Mutation{Key: []byte(fmt.Sprint("key:", i%10000)), Value: value,
						Version: hlc.Version{Time: (base + i) << 16, Node: "sfo-1"}, Origin: "sfo"}
					if r := e.Apply(context.Background(), m); r.Err != nil {
						b.Fatal(r.Err)
					}
				}
			})
		})
	}
}

// BenchmarkEngineGet: point reads of a warm key set.
func BenchmarkEngineGet(b *testing.B) {
	e := openTest(b, Config{Durability: DurabilityNever})
	for i := range 10000 {
		put(b, e, fmt.Sprint("key:", i), "value", ver(uint64(i+1), "sfo-1"))
	}
	keys := make([][]byte, 10000)
	for i := range keys {
		keys[i] = []byte(fmt.Sprint("key:", i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Get(keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
	}
}
