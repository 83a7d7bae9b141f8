package waltailer

import (
	"time"

	"planet/internal/metrics"
	"planet/storage/wal"
)

// Status is what `planet waltailer status` shows (GET /v1/status).
type Status struct {
	Region  string         `json:"region"`
	WALs    []WALStatus    `json:"wals"`
	Regions []RegionStatus `json:"regions"`
}

// WALStatus is a local WAL followed.
type WALStatus struct {
	Name string       `json:"name"`
	Head wal.Position `json:"head"` // end of what the tailer read
}

// RegionStatus is the shipping to one remote region.
type RegionStatus struct {
	Region string `json:"region"`
	// State: ok (caught up), catching up, retrying (the region does
	// not acknowledge), rejected (every replica refuses the batch with
	// an ERR: see LastError; retried), starting.
	State    string   `json:"state"`
	Replicas []string `json:"replicas"`         // the region's storage replicas (discovery)
	Target   string   `json:"target,omitempty"` // the replica that took the last batch
	// Cursors: per local WAL, acknowledged up to here (0:0: nothing yet).
	Cursors map[string]wal.Position `json:"cursors"`
	// The lag: records of this region and their bytes in the WAL not
	// yet acknowledged (the largest over the local WALs, which hold
	// copies of the same records), and now minus the wall time of the
	// oldest unacknowledged record's version (this region's clock).
	LagRecords uint64    `json:"lag_records"`
	LagBytes   uint64    `json:"lag_bytes"`
	LagSeconds float64   `json:"lag_seconds"`
	LastAck    time.Time `json:"last_ack,omitzero"`
	Retries    int       `json:"retries"`
	LastError  string    `json:"last_error,omitempty"`
	WALErrors  []string  `json:"wal_errors,omitempty"`
	// Cross-region anti-entropy with this region.
	AntiEntropy AntiEntropyStatus `json:"anti_entropy"`
}

// Status returns the tailer's status.
func (t *Tailer) Status() Status {
	st := Status{Region: t.cfg.Region}
	for _, name := range t.walNames() {
		ws := WALStatus{Name: name}
		if h := t.head(name); h != nil {
			ws.Head = h.position()
		}
		st.WALs = append(st.WALs, ws)
	}
	for _, r := range t.regionNames() {
		rs := t.shipper(r).status()
		rs.AntiEntropy = t.ae.status(r)
		st.Regions = append(st.Regions, rs)
	}
	return st
}

// registerLagMetrics adds the lag gauges, computed at scrape time.
func (t *Tailer) registerLagMetrics() {
	gauge := func(name, help string, f func(RegionStatus) float64) {
		t.m.reg.NewGaugeFunc(name, help, []string{"region"}, func() []metrics.Sample {
			var out []metrics.Sample
			for _, r := range t.regionNames() {
				out = append(out, metrics.Sample{LabelValues: []string{r}, Value: f(t.shipper(r).status())})
			}
			return out
		})
	}
	gauge("waltailer_lag_records", "Records of this region not yet acknowledged by the remote region.",
		func(s RegionStatus) float64 { return float64(s.LagRecords) })
	gauge("waltailer_lag_bytes", "WAL bytes of the records of this region not yet acknowledged by the remote region.",
		func(s RegionStatus) float64 { return float64(s.LagBytes) })
	gauge("waltailer_lag_seconds", "Now minus the wall time of the oldest record not yet acknowledged by the remote region (0 when none).",
		func(s RegionStatus) float64 { return s.LagSeconds })
	gauge("waltailer_up", "1 if the remote region acknowledges batches, 0 while retrying.",
		func(s RegionStatus) float64 {
			if s.State == "retrying" {
				return 0
			}
			return 1
		})
}
