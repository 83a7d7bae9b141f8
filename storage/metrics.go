package storage

import (
	"planet/internal/metrics"
)

type serverMetrics struct {
	reg            *metrics.Registry
	quorumFailures *metrics.CounterVec
	readRepairs    *metrics.CounterVec
	writeBacks     *metrics.CounterVec
	antiEntropy    *metrics.CounterVec
	handoffs       *metrics.CounterVec
	hintsLost      *metrics.CounterVec
	regionApplied  *metrics.CounterVec
	replication    *metrics.Histogram
	fsync          *metrics.Histogram
}

func newServerMetrics(s *Server) *serverMetrics {
	reg := metrics.NewRegistry()
	lat := metrics.ExponentialBuckets(0.00005, 2, 16) // 50µs .. 1.6s
	m := &serverMetrics{
		reg:            reg,
		quorumFailures: reg.NewCounterVec("storage_quorum_failures_total", "Writes and reads that did not reach their quorum.", "op"),
		readRepairs:    reg.NewCounterVec("storage_read_repairs_total", "Stale replicas repaired by reads."),
		writeBacks:     reg.NewCounterVec("storage_read_write_backs_total", "Linearizable reads that wrote the newest entry back to W replicas before replying."),
		antiEntropy:    reg.NewCounterVec("storage_anti_entropy_repairs_total", "Keys repaired by anti-entropy, pulled from or pushed to a peer.", "direction"),
		handoffs:       reg.NewCounterVec("storage_hints_delivered_total", "Hinted keys delivered to a peer that was back."),
		hintsLost:      reg.NewCounterVec("storage_hints_lost_total", "Hints that could not be stored (anti-entropy repairs those peers)."),
		regionApplied:  reg.NewCounterVec("storage_region_apply_records_total", "Records of other regions that this replica coordinated to W replicas (REPL.APPLY from a WAL tailer)."),
		replication:    reg.NewHistogram("storage_replication_seconds", "Round trip of a replicated write to a peer replica.", lat),
		fsync:          reg.NewHistogram("storage_wal_fsync_seconds", "WAL fsync latency (one per commit batch).", lat),
	}
	s.mux.RegisterCommandCounter(reg, "storage_commands_total")
	gauge := func(name, help string, f func() float64) {
		reg.NewGaugeFunc(name, help, nil, func() []metrics.Sample { return []metrics.Sample{{Value: f()}} })
	}
	gauge("storage_wal_bytes", "Size of the current WAL generation.", func() float64 { return float64(s.eng.Stats().WALBytes) })
	gauge("storage_wal_generation", "Current WAL generation.", func() float64 { return float64(s.eng.Stats().Generation) })
	gauge("storage_keys", "Live keys held by this replica.", func() float64 { return float64(s.eng.Stats().Keys) })
	gauge("storage_hints_pending", "Hinted keys waiting for their peer.", func() float64 { return float64(s.hints.pending()) })
	gauge("storage_peers", "Other replicas of the region known from discovery.", func() float64 { return float64(len(s.peers.addrs())) })
	gauge("storage_connections", "Open RESP client connections.", func() float64 { return float64(s.resp.Connections()) })
	gauge("storage_tombstones_purged", "Tombstones purged by compaction since start.", func() float64 { return float64(s.eng.Stats().Purged) })
	return m
}
