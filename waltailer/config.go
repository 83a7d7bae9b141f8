package waltailer

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"planet/internal/hlc"
	"planet/internal/secret"
)

// DefaultAdminPort is the tailer's /health, /metrics and /v1/status port.
const DefaultAdminPort = 10700

// Config configures a Tailer. Zero fields take the defaults in
// parentheses.
type Config struct {
	Region        string         // this region; required
	DataDir       string         // the storage replicas' DATA_DIR (their WALs are DataDir/storage-<port>); required
	BindHost      string         // admin address host (127.0.0.1)
	AdminPort     int            // (DefaultAdminPort); -1: any free port
	DiscoveryAddr string         // (127.0.0.1:10200)
	Discovery     Discovery      // overrides DiscoveryAddr (tests)
	Secret        *secret.Secret // the platform secret: REPL.APPLY, REPL.DIGEST... are internal commands
	Logger        *slog.Logger

	BatchRecords    int           // most records in one REPL.APPLY (4096)
	BatchBytes      int           // most bytes in one REPL.APPLY (4 MiB)
	DedupWindow     int           // records remembered as sent, to skip their copies in the other WALs (1<<16)
	ApplyTimeout    time.Duration // bound of one REPL.APPLY, plus 1 s per 2 MiB (10s)
	RetryMin        time.Duration // first backoff after every replica of a region failed (100ms)
	RetryMax        time.Duration // longest backoff (5s)
	PollMin         time.Duration // first pause when the WALs have nothing new (1ms)
	PollMax         time.Duration // longest pause; with inotify a write wakes the shippers at once (50ms)
	RefreshInterval time.Duration // discovery refresh period (1s)
	HeadInterval    time.Duration // lag accounting period (200ms)
	FlushInterval   time.Duration // cursor file save period (200ms)

	// AntiEntropyInterval is the period of the cross-region digest
	// comparison with each remote region (30s); negative: off.
	AntiEntropyInterval time.Duration
	// RepairAfter is the in-flight window: a digest bucket is repaired
	// only once it has differed for this long, so that records still on
	// their way are not repaired twice (60s).
	RepairAfter time.Duration
}

func (c *Config) fillDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.BindHost == "" {
		c.BindHost = "127.0.0.1"
	}
	if c.AdminPort == 0 {
		c.AdminPort = DefaultAdminPort
	}
	if c.DiscoveryAddr == "" {
		c.DiscoveryAddr = "127.0.0.1:10200"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.BatchRecords == 0 {
		c.BatchRecords = 4096
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = 4 << 20
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = 1 << 16
	}
	def(&c.ApplyTimeout, 10*time.Second)
	def(&c.RetryMin, 100*time.Millisecond)
	def(&c.RetryMax, 5*time.Second)
	def(&c.PollMin, time.Millisecond)
	def(&c.PollMax, 50*time.Millisecond)
	def(&c.RefreshInterval, time.Second)
	def(&c.HeadInterval, 200*time.Millisecond)
	def(&c.FlushInterval, 200*time.Millisecond)
	def(&c.AntiEntropyInterval, 30*time.Second)
	def(&c.RepairAfter, 60*time.Second)
}

func (c *Config) validate() error {
	if err := hlc.ValidRegion(c.Region); err != nil {
		return fmt.Errorf("waltailer: REGION: %w", err)
	}
	switch {
	case c.DataDir == "":
		return errors.New("waltailer: DATA_DIR is required")
	case c.BatchRecords < 1 || c.BatchBytes < 1:
		return errors.New("waltailer: batch limits must be positive")
	case c.RetryMin > c.RetryMax:
		return errors.New("waltailer: RetryMin above RetryMax")
	}
	return nil
}
