package waltailer

import (
	"planet/internal/metrics"
)

// tailerMetrics are the tailer's Prometheus series (see the package doc).
type tailerMetrics struct {
	reg             *metrics.Registry
	shipped         *metrics.CounterVec // records acknowledged, by region
	sentBytes       *metrics.CounterVec // REPL.APPLY bytes sent, by region
	walBytes        *metrics.CounterVec // WAL bytes of the records acknowledged, by region
	batches         *metrics.CounterVec // by region and result
	duplicates      *metrics.CounterVec // copies skipped, by region
	resent          *metrics.CounterVec // records sent again from snapshots, by region
	generationsGone *metrics.CounterVec // compactions that removed a log a region needed
	resets          *metrics.CounterVec // cursors restarted (lost position, replaced WAL)
	repaired        *metrics.CounterVec // keys repaired by cross-region anti-entropy, by region and direction
	aeRounds        *metrics.CounterVec // anti-entropy rounds, by region and result
}

func newMetrics() *tailerMetrics {
	reg := metrics.NewRegistry()
	return &tailerMetrics{
		reg:             reg,
		shipped:         reg.NewCounterVec("waltailer_shipped_records_total", "Records of this region acknowledged by a remote region.", "region"),
		sentBytes:       reg.NewCounterVec("waltailer_sent_bytes_total", "Bytes of REPL.APPLY commands sent to a remote region (RESP), retries included.", "region"),
		walBytes:        reg.NewCounterVec("waltailer_shipped_wal_bytes_total", "Size in the WAL of the records acknowledged by a remote region.", "region"),
		batches:         reg.NewCounterVec("waltailer_batches_total", "REPL.APPLY batches sent to a remote region, by result (ok or error).", "region", "result"),
		duplicates:      reg.NewCounterVec("waltailer_duplicates_skipped_total", "Copies of a record in other local WALs that were not sent again.", "region"),
		resent:          reg.NewCounterVec("waltailer_resent_records_total", "Records sent again from a snapshot after compaction removed a log a region still needed.", "region"),
		generationsGone: reg.NewCounterVec("waltailer_generations_gone_total", "Times compaction removed a WAL generation that a remote region had not received (recovered by resending the snapshot).", "region"),
		resets:          reg.NewCounterVec("waltailer_cursor_resets_total", "Cursors that restarted a log from its start (lost position, replaced WAL).", "region"),
		repaired:        reg.NewCounterVec("waltailer_anti_entropy_repaired_keys_total", "Keys repaired by cross-region anti-entropy, pulled from or pushed to a remote region.", "region", "direction"),
		aeRounds:        reg.NewCounterVec("waltailer_anti_entropy_rounds_total", "Cross-region anti-entropy rounds, by result (agree, differ, repaired, error).", "region", "result"),
	}
}
