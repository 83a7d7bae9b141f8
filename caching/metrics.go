package caching

import (
	"time"

	"planet/internal/metrics"
)

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
	replicationMetrics(reg, s.repl)
	return &serverMetrics{reg: reg}
}

// replicationMetrics registers the metrics of r: writes by mode and
// result, each peer's queue, and what peers sent.
func replicationMetrics(reg *metrics.Registry, r *replicator) {
	reg.NewCounterFunc("caching_writes_total", "Writes sent to peers, by replication mode and result (ok, or not_acknowledged: a quorum or strong write whose peers did not answer in time).",
		[]string{"mode", "result"}, func() []metrics.Sample {
			var out []metrics.Sample
			for m := Eventual; m <= Strong; m++ {
				out = append(out,
					metrics.Sample{LabelValues: []string{m.String(), "ok"}, Value: float64(r.writes[m][0].Load())},
					metrics.Sample{LabelValues: []string{m.String(), "not_acknowledged"}, Value: float64(r.writes[m][1].Load())})
			}
			return out
		})
	perPeer := func(name, help string, counter bool, f func(linkStatus) float64) {
		collect := func() []metrics.Sample {
			var out []metrics.Sample
			for _, st := range r.statuses() {
				out = append(out, metrics.Sample{LabelValues: []string{st.Addr, st.Region}, Value: f(st)})
			}
			return out
		}
		if counter {
			reg.NewCounterFunc(name, help, []string{"peer", "region"}, collect)
		} else {
			reg.NewGaugeFunc(name, help, []string{"peer", "region"}, collect)
		}
	}
	perPeer("caching_replication_queue", "Records queued for the peer or in flight.", false, func(st linkStatus) float64 { return float64(st.Queue) })
	perPeer("caching_replication_pending_invalidations", "Keys the peer is still to be told to drop.", false, func(st linkStatus) float64 { return float64(st.Invalid) })
	perPeer("caching_replication_sent_total", "Records the peer acknowledged.", true, func(st linkStatus) float64 { return float64(st.Sent) })
	perPeer("caching_replication_dropped_total", "Records the peer's queue had no room for (sent as invalidations instead).", true, func(st linkStatus) float64 { return float64(st.Dropped) })
	perPeer("caching_invalidations_sent_total", "Invalidation records the peer acknowledged.", true, func(st linkStatus) float64 { return float64(st.InvSent) })
	perPeer("caching_replication_failed_batches_total", "Batches to the peer that failed and were retried.", true, func(st linkStatus) float64 { return float64(st.Fails) })
	perPeer("caching_replication_latency_seconds_sum", "Total round-trip time of the batches the peer acknowledged.", true, func(st linkStatus) float64 { return st.LatencySum.Seconds() })
	perPeer("caching_replication_latency_seconds_count", "Batches the peer acknowledged.", true, func(st linkStatus) float64 { return float64(st.LatencyN) })
	perPeer("caching_replication_last_ack_age_seconds", "Seconds since the peer last acknowledged a batch (-1: never).", false, func(st linkStatus) float64 {
		if st.LastAck.IsZero() {
			return -1
		}
		return time.Since(st.LastAck).Seconds()
	})
	reg.NewCounterFunc("caching_received_records_total", "Records received from peers, by outcome: applied, stale (not newer), late (older than the tombstone grace: applied as an invalidation), refused (no room under maxmemory: applied as an invalidation).",
		[]string{"result"}, func() []metrics.Sample {
			a := r.store.ApplyStats()
			return []metrics.Sample{{LabelValues: []string{"applied"}, Value: float64(a.Applied)},
				{LabelValues: []string{"stale"}, Value: float64(a.Stale)},
				{LabelValues: []string{"late"}, Value: float64(a.Late)},
				{LabelValues: []string{"refused"}, Value: float64(a.Refused)}}
		})
	one := func(v float64) []metrics.Sample { return []metrics.Sample{{Value: v}} }
	reg.NewCounterFunc("caching_invalidations_received_total", "Invalidation records received from peers.", nil,
		func() []metrics.Sample { return one(float64(r.store.ApplyStats().Invalidations)) })
	reg.NewGaugeFunc("caching_peers", "Caches discovery lists in every region, this one aside.", nil,
		func() []metrics.Sample { return one(float64(len(r.peers()))) })
	reg.NewGaugeFunc("caching_tombstones", "Tombstones of deleted keys held.", nil,
		func() []metrics.Sample { return one(float64(r.store.Tombstones())) })
	reg.NewGaugeFunc("caching_loading", "1 while the warm start copies a cache of this region.", nil,
		func() []metrics.Sample {
			if r.store.loading.Load() {
				return one(1)
			}
			return one(0)
		})
}
