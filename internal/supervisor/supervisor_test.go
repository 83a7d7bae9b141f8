package supervisor

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pt "planet/internal/planettest"
)

// Child scripts. Each prints "ready" once it is set up, so a test can wait
// for that line before signalling it.
const (
	scriptServe  = `echo "ready in $PLANET_REGION"; echo oops >&2; exec sleep 60`
	scriptCrash  = `echo boom >&2; exit 3`
	scriptDeaf   = `trap "" TERM; echo ready; exec sleep 60`                             // ignores SIGTERM
	scriptPolite = `trap 'echo bye; exit 0' TERM; echo ready; while :; do sleep 1; done` // exits 0 on SIGTERM
	scriptFamily = `sleep 60 & echo "ready grandchild $!"; wait`                         // has a child of its own
)

// waitTimeout bounds every poll; the tests normally take milliseconds.
const waitTimeout = 10 * time.Second

func sh(region, service, script string) Spec {
	return Spec{
		Region: region, Service: service,
		Path: "/bin/sh", Args: []string{"-c", script},
		Env: []string{"PLANET_REGION=" + region},
	}
}

// syncBuffer is an io.Writer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness runs a Supervisor in the background for one test.
type harness struct {
	t      testing.TB
	sup    *Supervisor
	out    *syncBuffer
	cancel context.CancelFunc
	runErr chan error
	once   sync.Once
	err    error
}

// startSupervisor runs a Supervisor over specs and waits until every child
// has been started once. Cleanup cancels Run and waits for it.
func startSupervisor(t testing.TB, stopTimeout time.Duration, specs ...Spec) *harness {
	t.Helper()
	h := &harness{t: t, out: &syncBuffer{}, runErr: make(chan error, 1)}
	sup, err := New(Config{
		Specs:       specs,
		Output:      h.out,
		Logger:      slog.New(slog.NewTextHandler(t.Output(), nil)),
		StopTimeout: stopTimeout,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.sup = sup
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.runErr <- sup.Run(ctx) }()
	t.Cleanup(func() {
		if err := h.shutdown(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitFor(t, "every child to start", func() bool {
		for _, st := range sup.Status() {
			if st.PID == 0 {
				return false
			}
		}
		return true
	})
	return h
}

// shutdown cancels Run and returns its result; later calls return the same.
func (h *harness) shutdown() error {
	h.t.Helper()
	h.once.Do(func() {
		h.cancel()
		select {
		case h.err = <-h.runErr:
		case <-time.After(waitTimeout):
			h.t.Fatalf("Run did not return within %v of cancel", waitTimeout)
		}
	})
	return h.err
}

// waitOutput waits until the output contains want.
func (h *harness) waitOutput(want string) {
	h.t.Helper()
	waitFor(h.t, "output "+strconv.Quote(want), func() bool { return strings.Contains(h.out.String(), want) })
}

func (h *harness) status(name string) ProcessStatus {
	h.t.Helper()
	st, err := h.sup.StatusOf(name)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	pt.WaitFor(t, waitTimeout, what, cond)
}

// procState returns the state letter from /proc/pid/stat ("S", "T", "Z"...),
// or "" if it cannot be read (process gone, or no /proc).
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	_, rest, ok := bytes.Cut(b, []byte(") "))
	if !ok || len(rest) == 0 {
		return ""
	}
	return string(rest[:1])
}

// processGone reports whether pid no longer exists. A zombie waiting for a
// reaper that is not us (a grandchild re-parented to init) counts as gone.
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) || procState(pid) == "Z"
}

func waitGone(t testing.TB, pid int) {
	t.Helper()
	waitFor(t, "pid "+strconv.Itoa(pid)+" to be gone", func() bool { return processGone(pid) })
}

func TestStartStatusAndOutput(t *testing.T) {
	h := startSupervisor(t, time.Second,
		sh("sfo", "discovery", scriptServe),
		sh("nyc", "discovery", scriptServe),
		sh("ams", "crash", scriptCrash),
	)
	for _, want := range []string{
		"sfo/discovery | ready in sfo\n",
		"sfo/discovery | oops\n",
		"nyc/discovery | ready in nyc\n",
		"ams/crash | boom\n",
	} {
		h.waitOutput(want)
	}
	waitFor(t, "ams/crash to exit", func() bool { return h.status("ams/crash").State == StateExited })

	want := []struct {
		name, state string
		exitCode    int
	}{
		{"sfo/discovery", StateRunning, 0},
		{"nyc/discovery", StateRunning, 0},
		{"ams/crash", StateExited, 3},
	}
	got := h.sup.Status()
	if len(got) != len(want) {
		t.Fatalf("Status() has %d entries, want %d", len(got), len(want))
	}
	for i, w := range want {
		st := got[i]
		if st.Name != w.name || st.State != w.state || st.ExitCode != w.exitCode {
			t.Errorf("Status()[%d] = %s %s code %d, want %s %s code %d", i, st.Name, st.State, st.ExitCode, w.name, w.state, w.exitCode)
		}
		if st.PID <= 0 || st.StartedAt.IsZero() || st.Restarts != 0 || st.Signal != "" {
			t.Errorf("Status()[%d] = %+v, want a pid, a start time, no restarts, no signal", i, st)
		}
		if st.Region+"/"+st.Service != st.Name {
			t.Errorf("Status()[%d]: region %q service %q do not match name %q", i, st.Region, st.Service, st.Name)
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(h.out.String(), "\n"), "\n") {
		if !strings.HasPrefix(line, "sfo/discovery | ") && !strings.HasPrefix(line, "nyc/discovery | ") && !strings.HasPrefix(line, "ams/crash | ") {
			t.Errorf("output line %q has no process prefix", line)
		}
	}
}

func TestKillStaysDownUntilStart(t *testing.T) {
	const name = "sfo/discovery"
	h := startSupervisor(t, time.Second, sh("sfo", "discovery", scriptServe))
	first := h.status(name)

	if err := h.sup.Kill(name); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	st := h.status(name)
	if st.State != StateExited || st.Signal != "killed" || st.ExitCode != -1 || st.PID != first.PID {
		t.Errorf("after Kill: %+v, want exited by signal killed, code -1, pid %d", st, first.PID)
	}
	if !processGone(first.PID) {
		t.Errorf("pid %d still exists after Kill returned", first.PID)
	}

	notRunning := map[string]func() error{
		"Kill":   func() error { return h.sup.Kill(name) },
		"Stop":   func() error { return h.sup.Stop(name) },
		"Signal": func() error { return h.sup.Signal(name, syscall.SIGSTOP) },
	}
	for op, call := range notRunning {
		if err := call(); !errors.Is(err, ErrNotRunning) {
			t.Errorf("%s on exited process: %v, want ErrNotRunning", op, err)
		}
	}
	if st := h.status(name); st.State != StateExited || st.PID != first.PID {
		t.Errorf("exited process changed on its own: %+v", st)
	}

	if err := h.sup.Start(name); err != nil {
		t.Fatalf("Start: %v", err)
	}
	st = h.status(name)
	if st.State != StateRunning || st.Restarts != 1 || st.PID == first.PID || st.Signal != "" || st.ExitCode != 0 {
		t.Errorf("after Start: %+v, want running with a new pid and 1 restart", st)
	}
	if err := h.sup.Start(name); !errors.Is(err, ErrRunning) {
		t.Errorf("Start while running: %v, want ErrRunning", err)
	}
	if err := h.sup.Start("lon/discovery"); !errors.Is(err, ErrUnknownProcess) {
		t.Errorf("Start unknown: %v, want ErrUnknownProcess", err)
	}
}

func TestPauseResume(t *testing.T) {
	const name = "sfo/discovery"
	h := startSupervisor(t, waitTimeout, sh("sfo", "discovery", scriptServe))
	pid := h.status(name).PID
	_, hasProc := os.Stat("/proc/self/stat")

	steps := []struct {
		sig       syscall.Signal
		wantState string
		stopped   bool // kernel state "T"
	}{
		{syscall.SIGSTOP, StatePaused, true},
		{syscall.SIGCONT, StateRunning, false},
		{syscall.SIGSTOP, StatePaused, true},
	}
	for _, step := range steps {
		if err := h.sup.Signal(name, step.sig); err != nil {
			t.Fatalf("Signal(%v): %v", step.sig, err)
		}
		if got := h.status(name).State; got != step.wantState {
			t.Errorf("after %v: state %q, want %q", step.sig, got, step.wantState)
		}
		if hasProc == nil {
			waitFor(t, "kernel to see "+step.sig.String(), func() bool { return (procState(pid) == "T") == step.stopped })
		}
	}

	// Stopping a paused child must not wait for the SIGKILL timeout.
	if err := h.sup.Stop(name); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if st := h.status(name); st.State != StateStopped || st.Signal != "terminated" {
		t.Errorf("after Stop of paused child: %+v, want stopped by SIGTERM", st)
	}
}

func TestStop(t *testing.T) {
	const stopTimeout = 300 * time.Millisecond
	tests := []struct {
		name       string
		script     string
		wantSignal string
		wantCode   int
		wantOutput string // must be copied by the time Stop returns
		slow       bool   // needs SIGKILL after stopTimeout
	}{
		{name: "exits on SIGTERM", script: scriptServe, wantSignal: "terminated", wantCode: -1},
		{name: "handles SIGTERM", script: scriptPolite, wantCode: 0, wantOutput: "sfo/discovery | bye\n"},
		{name: "ignores SIGTERM", script: scriptDeaf, wantSignal: "killed", wantCode: -1, slow: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A child that handles SIGTERM gets a grace period that a
			// loaded machine cannot overrun; only the deaf one waits it out.
			grace := 30 * time.Second
			if tt.slow {
				grace = stopTimeout
			}
			h := startSupervisor(t, grace, sh("sfo", "discovery", tt.script))
			h.waitOutput("sfo/discovery | ready")
			pid := h.status("sfo/discovery").PID

			start := time.Now()
			if err := h.sup.Stop("sfo/discovery"); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			elapsed := time.Since(start)

			st := h.status("sfo/discovery")
			if st.State != StateStopped || st.Signal != tt.wantSignal || st.ExitCode != tt.wantCode {
				t.Errorf("after Stop: %+v, want stopped, signal %q, code %d", st, tt.wantSignal, tt.wantCode)
			}
			if !processGone(pid) {
				t.Errorf("pid %d still exists after Stop returned", pid)
			}
			if tt.slow && elapsed < stopTimeout {
				t.Errorf("Stop took %v, want at least the %v grace period", elapsed, stopTimeout)
			}
			if !strings.Contains(h.out.String(), tt.wantOutput) {
				t.Errorf("output %q does not contain %q", h.out.String(), tt.wantOutput)
			}
		})
	}
}

func TestRunStopsEverythingOnCancel(t *testing.T) {
	goroutinesBefore := runtime.NumGoroutine()
	h := startSupervisor(t, 300*time.Millisecond,
		sh("sfo", "discovery", scriptServe),
		sh("sfo", "storage", scriptFamily),
		sh("nyc", "discovery", scriptPolite),
		sh("nyc", "storage", scriptDeaf),
		sh("ams", "crash", scriptCrash),
	)
	h.waitOutput("sfo/discovery | ready")
	h.waitOutput("nyc/discovery | ready")
	h.waitOutput("nyc/storage | ready")
	h.waitOutput("sfo/storage | ready grandchild ")
	waitFor(t, "ams/crash to exit", func() bool { return h.status("ams/crash").State == StateExited })
	_, after, _ := strings.Cut(h.out.String(), "sfo/storage | ready grandchild ")
	grandchild, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(after, "\n", 2)[0]))
	if err != nil {
		t.Fatalf("parse grandchild pid: %v", err)
	}

	if err := h.shutdown(); err != nil {
		t.Fatalf("Run returned %v, want nil", err)
	}
	if !strings.Contains(h.out.String(), "nyc/discovery | bye\n") {
		t.Errorf("output copied after Run returned is missing the last line; got %q", h.out.String())
	}
	pids := []int{grandchild}
	for _, st := range h.sup.Status() {
		want := StateStopped
		if st.Name == "ams/crash" {
			want = StateExited
		}
		if st.State != want {
			t.Errorf("%s: state %q after Run, want %q", st.Name, st.State, want)
		}
		pids = append(pids, st.PID)
	}
	for _, pid := range pids {
		waitGone(t, pid)
	}
	if err := h.sup.Start("sfo/discovery"); !errors.Is(err, ErrInactive) {
		t.Errorf("Start after Run: %v, want ErrInactive", err)
	}
	waitFor(t, "goroutines to return to the baseline", func() bool { return runtime.NumGoroutine() <= goroutinesBefore })
}

func TestRunFailsWhenChildCannotStart(t *testing.T) {
	out := &syncBuffer{}
	sup, err := New(Config{
		Specs: []Spec{
			sh("sfo", "discovery", scriptServe),
			{Region: "ams", Service: "broken", Path: "/nonexistent/planet"},
			sh("nyc", "discovery", scriptServe),
		},
		Output:      out,
		StopTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	err = sup.Run(ctx)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "ams/broken") {
		t.Fatalf("Run = %v, want a not-exist error naming ams/broken", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run waited for ctx instead of failing fast")
	}
	want := map[string]string{"sfo/discovery": StateStopped, "ams/broken": StateStopped, "nyc/discovery": StateStopped}
	for _, st := range sup.Status() {
		if st.State != want[st.Name] {
			t.Errorf("%s: state %q, want %q", st.Name, st.State, want[st.Name])
		}
		if st.Name == "sfo/discovery" {
			waitGone(t, st.PID)
		} else if st.PID != 0 {
			t.Errorf("%s: pid %d, want never started", st.Name, st.PID)
		}
	}
}

func TestLifecycleErrors(t *testing.T) {
	sup, err := New(Config{Specs: []Spec{sh("sfo", "discovery", scriptServe)}, Output: &syncBuffer{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.Start("sfo/discovery"); !errors.Is(err, ErrInactive) {
		t.Errorf("Start before Run: %v, want ErrInactive", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sup.Run(ctx); err != nil {
		t.Errorf("Run with a cancelled ctx: %v, want nil", err)
	}
	if err := sup.Run(context.Background()); err == nil {
		t.Error("second Run succeeded, want an error")
	}
}
