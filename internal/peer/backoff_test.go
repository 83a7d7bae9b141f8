package peer

import (
	"errors"
	"testing"
	"time"
)

func TestBackoffBlocked(t *testing.T) {
	t0 := time.Unix(1000, 0)
	cause := errors.New("connection refused")
	open := openBackoff(t0, time.Second, cause)
	tests := []struct {
		name    string
		b       backoff
		now     time.Time
		blocked bool
	}{
		{name: "never failed", b: backoff{}, now: t0},
		{name: "at failure", b: open, now: t0, blocked: true},
		{name: "inside window", b: open, now: t0.Add(999 * time.Millisecond), blocked: true},
		{name: "window end", b: open, now: t0.Add(time.Second)},
		{name: "after window", b: open, now: t0.Add(time.Hour)},
		{name: "clock went back", b: open, now: t0.Add(-time.Hour), blocked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.b.blocked(tt.now)
			if !tt.blocked {
				if err != nil {
					t.Fatalf("blocked = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrUnavailable) || !errors.Is(err, cause) {
				t.Fatalf("blocked = %v, want ErrUnavailable wrapping the cause", err)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	want := Config{
		Conns: DefaultConns, MaxBatch: DefaultMaxBatch, QueueSize: 16 * DefaultConns * DefaultMaxBatch,
		DialTimeout: DefaultDialTimeout, IOTimeout: DefaultIOTimeout, Backoff: DefaultBackoff,
	}
	if got := (Config{}).withDefaults(); got != want {
		t.Errorf("zero config: got %+v, want %+v", got, want)
	}
	if got := (Config{Conns: -1, MaxBatch: -5, Backoff: -time.Second}).withDefaults(); got != want {
		t.Errorf("negative config: got %+v, want %+v", got, want)
	}
	set := Config{Conns: 3, MaxBatch: 1, QueueSize: 5, DialTimeout: 2, IOTimeout: 3, Backoff: 4}
	if got := set.withDefaults(); got != set {
		t.Errorf("set config: got %+v, want %+v", got, set)
	}
}
