package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Errors returned by Supervisor methods, wrapped with the process name.
var (
	ErrUnknownProcess = errors.New("supervisor: unknown process")
	ErrRunning        = errors.New("supervisor: process is running")
	ErrNotRunning     = errors.New("supervisor: process is not running")
	// ErrInactive means Run has not started yet or has already returned.
	ErrInactive = errors.New("supervisor: not active")
)

// Supervisor runs the children described by a Config. Create it with New,
// then call Run once; the other methods are safe for concurrent use.
type Supervisor struct {
	cfg    Config
	log    *slog.Logger
	out    *output
	procs  []*process          // in Specs order; fixed after New
	byName map[string]*process // fixed after New

	mu       sync.Mutex     // guards the fields below and all process/instance state
	ran      bool           // Run has been called
	active   bool           // Run is between its start and its shutdown; Start allowed
	children sync.WaitGroup // one count per instance, released when reap returns; Add under mu while active
}

// New validates cfg and returns a Supervisor that has not started anything.
func New(cfg Config) (*Supervisor, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Supervisor{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "supervisor"),
		out:    newOutput(cfg.Output),
		byName: make(map[string]*process, len(cfg.Specs)),
	}
	for _, spec := range cfg.Specs {
		p := newProcess(spec)
		s.procs = append(s.procs, p)
		s.byName[p.name] = p
	}
	return s, nil
}

// Run starts every child in Specs order and blocks until ctx ends. Then it
// stops all children (SIGTERM in reverse order, SIGKILL for any still alive
// after StopTimeout), waits until each is reaped and its output copied, and
// returns nil. If a child cannot be started, Run stops the ones already
// started and returns that error. Run may be called only once.
func (s *Supervisor) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ran {
		s.mu.Unlock()
		return errors.New("supervisor: Run called twice")
	}
	s.ran, s.active = true, true
	s.mu.Unlock()
	defer s.shutdown()

	for _, p := range s.procs {
		if ctx.Err() != nil {
			return nil
		}
		if err := s.Start(p.name); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

// shutdown refuses further starts, stops every live child and waits for all
// reap goroutines.
func (s *Supervisor) shutdown() {
	s.mu.Lock()
	s.active = false
	var live []*instance
	for i := len(s.procs) - 1; i >= 0; i-- {
		if inst := s.procs[i].live(); inst != nil {
			s.terminateLocked(s.procs[i], inst)
			live = append(live, inst)
		}
	}
	s.mu.Unlock()
	s.awaitExit(live)
	s.children.Wait()
}

// Start starts the named child, which must not be running. It fails with
// ErrInactive unless Run is active.
func (s *Supervisor) Start(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.lookup(name)
	if err != nil {
		return err
	}
	if !s.active {
		return fmt.Errorf("%w: cannot start %s", ErrInactive, name)
	}
	if p.live() != nil {
		return fmt.Errorf("%w: %s", ErrRunning, name)
	}
	inst, err := p.spawn(s.out)
	if err != nil {
		return fmt.Errorf("supervisor: start %s: %w", name, err)
	}
	p.beginLocked(inst)
	s.children.Add(1)
	go s.reap(p, inst)
	s.log.Info("started", "process", name, "pid", inst.pid, "restarts", p.starts-1)
	return nil
}

// reap waits for inst to exit and its output to be copied, then records the
// exit. It runs in its own goroutine, one per instance.
func (s *Supervisor) reap(p *process, inst *instance) {
	defer s.children.Done()
	err := inst.cmd.Wait()
	inst.stdout.Flush()
	inst.stderr.Flush()

	s.mu.Lock()
	p.finishLocked(inst, inst.cmd.ProcessState)
	st := p.statusLocked()
	s.mu.Unlock()
	close(inst.done)

	attrs := []any{"process", p.name, "pid", inst.pid, "state", st.State, "code", st.ExitCode}
	if st.Signal != "" {
		attrs = append(attrs, "signal", st.Signal)
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		attrs = append(attrs, "note", "output still open after exit; closed")
	}
	s.log.Info("exited", attrs...)
}

// Stop stops the named child: SIGTERM (and SIGCONT, in case it is paused),
// then SIGKILL if it is still alive after StopTimeout. It returns once the
// child has exited, and fails with ErrNotRunning if it was not running.
func (s *Supervisor) Stop(name string) error {
	s.mu.Lock()
	p, err := s.lookup(name)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	inst := p.live()
	if inst == nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrNotRunning, name)
	}
	s.terminateLocked(p, inst)
	s.mu.Unlock()
	s.awaitExit([]*instance{inst})
	return nil
}

// terminateLocked marks inst as being stopped and sends it SIGTERM.
func (s *Supervisor) terminateLocked(p *process, inst *instance) {
	inst.stopping = true
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGCONT} {
		if err := inst.signalLocked(sig); err != nil {
			s.log.Warn("signal failed", "process", p.name, "pid", inst.pid, "signal", sig.String(), "err", err)
		}
	}
}

// awaitExit waits for insts to exit, sending SIGKILL to those still alive
// once StopTimeout has passed.
func (s *Supervisor) awaitExit(insts []*instance) {
	timer := time.NewTimer(s.cfg.StopTimeout)
	defer timer.Stop()
	for i, inst := range insts {
		select {
		case <-inst.done:
			continue
		case <-timer.C:
		}
		for _, rest := range insts[i:] {
			s.killAfterTimeout(rest)
		}
		for _, rest := range insts[i:] {
			<-rest.done
		}
		return
	}
}

func (s *Supervisor) killAfterTimeout(inst *instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if inst.exited {
		return
	}
	s.log.Warn("still alive after stop timeout; killing", "pid", inst.pid, "timeout", s.cfg.StopTimeout)
	if err := inst.signalLocked(syscall.SIGKILL); err != nil {
		s.log.Warn("signal failed", "pid", inst.pid, "signal", "SIGKILL", "err", err)
	}
}

// Signal sends sig to the named child's process group. SIGSTOP and SIGTSTP
// mark it paused, SIGCONT running again. It fails with ErrNotRunning if the
// child is not alive.
func (s *Supervisor) Signal(name string, sig syscall.Signal) error {
	_, err := s.signal(name, sig)
	return err
}

// Kill sends SIGKILL to the named child and returns once it has exited.
func (s *Supervisor) Kill(name string) error {
	inst, err := s.signal(name, syscall.SIGKILL)
	if err != nil {
		return err
	}
	<-inst.done
	return nil
}

func (s *Supervisor) signal(name string, sig syscall.Signal) (*instance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	inst := p.live()
	if inst == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotRunning, name)
	}
	if err := inst.signalLocked(sig); err != nil {
		return nil, fmt.Errorf("supervisor: signal %s %s: %w", name, sig, err)
	}
	switch sig {
	case syscall.SIGSTOP, syscall.SIGTSTP:
		p.state = StatePaused
	case syscall.SIGCONT:
		p.state = StateRunning
	}
	return inst, nil
}

// Status returns a snapshot of every child, in Specs order.
func (s *Supervisor) Status() []ProcessStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ProcessStatus, len(s.procs))
	for i, p := range s.procs {
		out[i] = p.statusLocked()
	}
	return out
}

// StatusOf returns a snapshot of the named child.
func (s *Supervisor) StatusOf(name string) (ProcessStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.lookup(name)
	if err != nil {
		return ProcessStatus{}, err
	}
	return p.statusLocked(), nil
}

func (s *Supervisor) lookup(name string) (*process, error) {
	p, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownProcess, name)
	}
	return p, nil
}
