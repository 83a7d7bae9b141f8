package supervisor

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Process states reported in ProcessStatus.State.
const (
	StateRunning = "running" // alive and not paused
	StatePaused  = "paused"  // sent SIGSTOP (or SIGTSTP) through Signal
	StateExited  = "exited"  // died on its own or from a signal sent through Signal
	StateStopped = "stopped" // never started, or ended by Stop or shutdown
)

// outputDrainTimeout bounds how long a child's output is still read after the
// child exits, in case a process it spawned outside its process group keeps
// the pipes open.
const outputDrainTimeout = 2 * time.Second

// ProcessStatus is a snapshot of one child.
type ProcessStatus struct {
	Name    string `json:"name"` // "region/service"
	Region  string `json:"region"`
	Service string `json:"service"`
	State   string `json:"state"` // one of the State constants
	// PID is the current or, once exited, the last process ID; 0 if never started.
	PID int `json:"pid"`
	// ExitCode is the last exit status, -1 if killed by a signal, 0 while running.
	ExitCode int `json:"exit_code"`
	// Signal names the signal that killed the last instance, e.g. "killed".
	Signal string `json:"signal,omitempty"`
	// Restarts counts starts after the first.
	Restarts int `json:"restarts"`
	// StartedAt is when the current or last instance started; zero if never.
	StartedAt time.Time `json:"started_at,omitzero"`
}

// process is one supervised child. Its mutable fields, and those of its
// instances, are guarded by Supervisor.mu.
type process struct {
	spec Spec
	name string

	inst     *instance // current or last instance; nil before the first start
	state    string
	starts   int
	exitCode int
	signal   string
}

// instance is one execution of a process.
type instance struct {
	cmd       *exec.Cmd
	stdout    *lineWriter
	stderr    *lineWriter
	pid       int
	startedAt time.Time
	done      chan struct{} // closed once reaped, output copied and status recorded

	exited   bool // reaped; guarded by Supervisor.mu
	stopping bool // Stop or shutdown asked it to end; guarded by Supervisor.mu
}

func newProcess(spec Spec) *process {
	return &process{spec: spec, name: spec.Name(), state: StateStopped}
}

// live returns the instance that is alive (not yet reaped), or nil.
func (p *process) live() *instance {
	if p.inst == nil || p.inst.exited {
		return nil
	}
	return p.inst
}

// spawn starts a new instance of p writing its output to out. The caller
// must call cmd.Wait (see Supervisor.reap).
func (p *process) spawn(out *output) (*instance, error) {
	inst := &instance{
		stdout: newLineWriter(out, p.name),
		stderr: newLineWriter(out, p.name),
		done:   make(chan struct{}),
	}
	cmd := exec.Command(p.spec.Path, p.spec.Args...)
	cmd.Env = append(os.Environ(), p.spec.Env...)
	cmd.Dir = p.spec.Dir
	cmd.Stdout = inst.stdout
	cmd.Stderr = inst.stderr
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = outputDrainTimeout
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	inst.cmd = cmd
	inst.pid = cmd.Process.Pid
	inst.startedAt = time.Now()
	return inst, nil
}

// beginLocked records that inst is p's new running instance.
func (p *process) beginLocked(inst *instance) {
	p.inst = inst
	p.state = StateRunning
	p.starts++
	p.exitCode = 0
	p.signal = ""
}

// finishLocked records how inst, p's current instance, ended.
func (p *process) finishLocked(inst *instance, ps *os.ProcessState) {
	inst.exited = true
	p.exitCode, p.signal = -1, ""
	if ps != nil {
		p.exitCode = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.signal = ws.Signal().String()
		}
	}
	p.state = StateExited
	if inst.stopping {
		p.state = StateStopped
	}
}

func (p *process) statusLocked() ProcessStatus {
	st := ProcessStatus{
		Name:     p.name,
		Region:   p.spec.Region,
		Service:  p.spec.Service,
		State:    p.state,
		ExitCode: p.exitCode,
		Signal:   p.signal,
		Restarts: max(p.starts-1, 0),
	}
	if p.inst != nil {
		st.PID = p.inst.pid
		st.StartedAt = p.inst.startedAt
	}
	return st
}

// signalLocked sends sig to inst's process group (the child and anything it
// spawned), or to the child alone if it has left its group. A process that
// has just exited is not an error.
func (inst *instance) signalLocked(sig syscall.Signal) error {
	if inst.exited {
		return ErrNotRunning
	}
	err := syscall.Kill(-inst.pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		err = syscall.Kill(inst.pid, sig)
	}
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
