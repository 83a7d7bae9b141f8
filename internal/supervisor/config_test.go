package supervisor

import (
	"errors"
	"io"
	"testing"
	"time"
)

func TestNewValidates(t *testing.T) {
	ok := Spec{Region: "sfo", Service: "discovery", Path: "/bin/true"}
	with := func(f func(*Spec)) Spec { s := ok; f(&s); return s }
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"valid", Config{Specs: []Spec{ok}, Output: io.Discard}, false},
		{"two regions", Config{Specs: []Spec{ok, with(func(s *Spec) { s.Region = "nyc" })}, Output: io.Discard}, false},
		{"no output", Config{Specs: []Spec{ok}}, true},
		{"no specs", Config{Output: io.Discard}, true},
		{"duplicate name", Config{Specs: []Spec{ok, ok}, Output: io.Discard}, true},
		{"empty path", Config{Specs: []Spec{with(func(s *Spec) { s.Path = "" })}, Output: io.Discard}, true},
		{"empty region", Config{Specs: []Spec{with(func(s *Spec) { s.Region = "" })}, Output: io.Discard}, true},
		{"empty service", Config{Specs: []Spec{with(func(s *Spec) { s.Service = "" })}, Output: io.Discard}, true},
		{"slash in service", Config{Specs: []Spec{with(func(s *Spec) { s.Service = "a/b" })}, Output: io.Discard}, true},
		{"negative timeout", Config{Specs: []Spec{ok}, Output: io.Discard, StopTimeout: -time.Second}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Errorf("New = %v, want ErrInvalidConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if s.cfg.StopTimeout != DefaultStopTimeout || s.cfg.Logger == nil {
				t.Errorf("defaults not applied: StopTimeout %v, Logger %v", s.cfg.StopTimeout, s.cfg.Logger)
			}
			if got := s.Status()[0]; got.State != StateStopped || got.Name != "sfo/discovery" || got.PID != 0 {
				t.Errorf("initial status %+v, want sfo/discovery stopped with no pid", got)
			}
		})
	}
}

func TestNewCopiesSpecs(t *testing.T) {
	args := []string{"-c", "true"}
	specs := []Spec{{Region: "sfo", Service: "discovery", Path: "/bin/sh", Args: args}}
	s, err := New(Config{Specs: specs, Output: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	specs[0].Region = "nyc"
	args[1] = "false"
	if got := s.cfg.Specs[0]; got.Region != "sfo" || got.Args[1] != "true" {
		t.Errorf("New kept a reference to the caller's specs: %+v", got)
	}
}
