package e2e

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pt "planet/internal/planettest"
)

// Child processes that are not planet (redis-server, etcd), and the CPU
// time of server processes read from /proc, for the storage benchmark.

// requireBinary returns the path of name, or fails tb with the command
// that installs pkg: a benchmark without its comparison is not skipped.
func requireBinary(tb testing.TB, name, pkg string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("%s not found: run `make bench` as root (scripts/deps.sh bench installs it), or: apt-get update && apt-get install -y %s", name, pkg)
	}
	return path
}

// daemon is one child process other than planet. It is killed when the
// test ends, or earlier by stop; its output is printed if the test failed.
type daemon struct {
	name string
	cmd  *exec.Cmd
	out  pt.SyncBuffer
	done chan struct{} // closed when the process has exited
}

// startDaemon starts path with args.
func startDaemon(tb testing.TB, name, path string, args ...string) *daemon {
	tb.Helper()
	d := &daemon{name: name, done: make(chan struct{})}
	d.cmd = exec.Command(path, args...)
	d.cmd.Stdout, d.cmd.Stderr = &d.out, &d.out
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", name, err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	tb.Cleanup(func() {
		d.stop()
		if tb.Failed() {
			tb.Logf("--- output of %s ---\n%s", name, d.out.String())
		}
	})
	return d
}

// stop kills the process and waits until it has exited; it may be called
// more than once.
func (d *daemon) stop() {
	d.cmd.Process.Kill()
	<-d.done
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

// alive fails tb with the process's output if it has exited: a readiness
// poll calls it so that a daemon that refused its flags fails at once.
func (d *daemon) alive(tb testing.TB) {
	tb.Helper()
	select {
	case <-d.done:
		tb.Fatalf("%s exited: %v\n%s", d.name, d.cmd.ProcessState, d.out.String())
	default:
	}
}

// clockTick is the unit of utime and stime in /proc/<pid>/stat
// (sysconf(_SC_CLK_TCK)), read from the auxiliary vector (AT_CLKTCK); 100
// Hz if that cannot be read.
var clockTick = sync.OnceValue(func() time.Duration {
	const atClkTck = 17
	auxv, err := os.ReadFile("/proc/self/auxv")
	for i := 0; err == nil && i+16 <= len(auxv); i += 16 {
		if binary.NativeEndian.Uint64(auxv[i:]) == atClkTck {
			if hz := binary.NativeEndian.Uint64(auxv[i+8:]); hz > 0 {
				return time.Second / time.Duration(hz)
			}
		}
	}
	return time.Second / 100
})

// processCPU returns the user plus system CPU time that process pid (all
// its threads) has used so far.
func processCPU(pid int) (time.Duration, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64) // field 14 of proc(5)
	stime, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * clockTick(), nil
}

// procStat returns the fields of /proc/<pid>/stat from the third (state)
// on: the command name before them may hold spaces and parentheses.
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndex(b, []byte(") "))
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 13 {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields after the command name", pid, len(f))
	}
	return f, nil
}

// totalCPU sums processCPU over pids.
func totalCPU(tb testing.TB, pids []int) time.Duration {
	tb.Helper()
	var sum time.Duration
	for _, pid := range pids {
		d, err := processCPU(pid)
		if err != nil {
			tb.Fatalf("CPU time of pid %d: %v", pid, err)
		}
		sum += d
	}
	return sum
}

// settle waits until the processes are idle again after a phase — less
// than 10% of one core between them over 250ms, or 10s at most — so that
// work a system defers (write-behind, background commits) is counted in the
// phase that caused it. It reports whether they settled.
func settle(tb testing.TB, pids []int) bool {
	tb.Helper()
	const window, deadline = 250 * time.Millisecond, 10 * time.Second
	tick := time.NewTicker(window)
	defer tick.Stop()
	last := totalCPU(tb, pids)
	for start := time.Now(); time.Since(start) < deadline; {
		<-tick.C
		now := totalCPU(tb, pids)
		if now-last < window/10 {
			return true
		}
		last = now
	}
	return false
}

// listenerPID returns the pid of the child of this test process that
// listens on TCP ip:port, found through /proc/net/tcp and the children's
// socket descriptors (planettest.Process does not expose its pid).
func listenerPID(tb testing.TB, ip string, port int) int {
	tb.Helper()
	inode := listeningInode(tb, ip, port)
	want := "socket:[" + inode + "]"
	entries, err := os.ReadDir("/proc")
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || parentPID(pid) != os.Getpid() {
			continue
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); l == want {
				return pid
			}
		}
	}
	tb.Fatalf("no child process holds the socket listening on %s:%d", ip, port)
	return 0
}

// listeningInode returns the inode of the TCP socket listening on ip:port.
func listeningInode(tb testing.TB, ip string, port int) string {
	tb.Helper()
	v4 := net.ParseIP(ip).To4()
	if v4 == nil {
		tb.Fatalf("listenerPID: %s is not IPv4", ip)
	}
	// /proc/net/tcp prints the address as a native-endian 32-bit number.
	local := fmt.Sprintf("%08X:%04X", binary.NativeEndian.Uint32(v4), port)
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		f := strings.Fields(line)
		if len(f) >= 10 && f[1] == local && f[3] == "0A" { // 0A: LISTEN
			return f[9]
		}
	}
	tb.Fatalf("nothing listens on %s:%d (%s) in /proc/net/tcp", ip, port, local)
	return ""
}

// parentPID returns the parent of pid, or -1.
func parentPID(pid int) int {
	f, err := procStat(pid)
	if err != nil {
		return -1
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return -1
	}
	return ppid
}
