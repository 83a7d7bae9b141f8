package caching

import "planet/internal/metrics"

// serverMetrics are the cache's /metrics: counters and gauges read from
// the Store, the RESP server and the Mux when scraped.
type serverMetrics struct {
	reg *metrics.Registry
}

func newServerMetrics(s *Server) *serverMetrics {
	reg := metrics.NewRegistry()
	one := func(v float64) []metrics.Sample { return []metrics.Sample{{Value: v}} }
	counter := func(name, help string, f func(Stats) int64) {
		reg.NewCounterFunc(name, help, nil, func() []metrics.Sample { return one(float64(f(s.store.Stats()))) })
	}
	gauge := func(name, help string, f func() float64) {
		reg.NewGaugeFunc(name, help, nil, func() []metrics.Sample { return one(f()) })
	}
	counter("caching_hits_total", "Reads of a key that found it (Redis's keyspace_hits).", func(st Stats) int64 { return st.Hits })
	counter("caching_misses_total", "Reads of a key that did not find it (Redis's keyspace_misses).", func(st Stats) int64 { return st.Misses })
	counter("caching_evictions_total", "Keys evicted to stay under maxmemory.", func(st Stats) int64 { return st.Evicted })
	counter("caching_expirations_total", "Keys deleted because their TTL passed.", func(st Stats) int64 { return st.Expired })
	gauge("caching_memory_used_bytes", "Memory used by entries, as accounted against maxmemory.", func() float64 { return float64(s.store.Used()) })
	gauge("caching_maxmemory_bytes", "The memory limit (0: none).", func() float64 { return float64(s.store.MaxMemory()) })
	gauge("caching_keys", "Keys held, expired ones not yet deleted included.", func() float64 { return float64(s.store.Len()) })
	gauge("caching_connections", "Open RESP client connections.", func() float64 { return float64(s.resp.Connections()) })
	s.mux.RegisterCommandCounter(reg, "caching_commands_total")
	return &serverMetrics{reg: reg}
}
