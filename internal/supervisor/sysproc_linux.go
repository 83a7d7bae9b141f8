package supervisor

import "syscall"

// sysProcAttr puts the child in its own process group, so a terminal's
// Ctrl-C reaches only the supervisor, and has the kernel SIGKILL it if the
// supervisor dies. (Pdeathsig fires when the OS thread that forked the child
// exits; the Go runtime keeps threads alive unless a goroutine exits while
// locked to one, which this package never does.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
