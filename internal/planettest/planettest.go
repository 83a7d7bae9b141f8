// Package planettest runs real planet processes for integration tests and
// benchmarks: it builds the binary once, starts regions on loopback
// addresses of their own, and waits by polling with a deadline.
package planettest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/planet (once per test process) and returns its path.
// Set PLANET_BIN to use a prebuilt binary.
func Binary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("PLANET_BIN"); p != "" {
			binPath = p
			return
		}
		dir, err := os.MkdirTemp("", "planet-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "planet")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/planet")...)
		cmd.Dir = moduleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

// Cleanup removes the binary built by Binary; call it from TestMain.
func Cleanup() {
	if binPath != "" && os.Getenv("PLANET_BIN") == "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// WaitFor polls cond every 10ms until it holds, failing tb after timeout.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			tb.Fatalf("timed out after %v waiting until %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

var ipBlock atomic.Int32

// FreeIPs returns n loopback addresses that no other cluster of this test
// process uses (127.0.2.x and up; planet dev uses 127.0.1.x).
func FreeIPs(n int) []string {
	base := int(ipBlock.Add(int32(n))) - n
	ips := make([]string, n)
	for i := range ips {
		k := base + i
		ips[i] = fmt.Sprintf("127.0.%d.%d", 2+k/250, 1+k%250)
	}
	return ips
}

var prefixBlock atomic.Int32

// FreeIPPrefix returns a loopback /24 prefix ("127.0.200") of its own, for
// `planet dev --ip-prefix`.
func FreeIPPrefix() string {
	return fmt.Sprintf("127.0.%d", 199+prefixBlock.Add(1))
}

// given holds the ports FreePort returned: a port is free until the
// process it was meant for binds it, and the kernel may offer it again
// meanwhile (a storage admin port once got its discovery's port).
var given sync.Map // ip:port → struct{}

// FreePort returns a port free on ip for both TCP and UDP, never one it
// returned before in this test process.
func FreePort(tb testing.TB, ip string) int {
	tb.Helper()
	for i := 0; i < 50; i++ {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			tb.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: port})
		ln.Close()
		if err == nil {
			udp.Close()
			if _, dup := given.LoadOrStore(net.JoinHostPort(ip, strconv.Itoa(port)), struct{}{}); !dup {
				return port
			}
		}
	}
	tb.Fatal("no free port")
	return 0
}

// Process is one planet child process that can be killed, paused and
// started again with the same command line.
type Process struct {
	Name string
	args []string
	env  []string
	tb   testing.TB
	log  *SyncBuffer

	mu  sync.Mutex
	cmd *exec.Cmd     // guarded by mu
	ex  chan struct{} // guarded by mu; closed when cmd exits
}

// StartProcess runs the planet binary with args and extra env; see
// NewProcess.
func StartProcess(tb testing.TB, name string, env []string, args ...string) *Process {
	tb.Helper()
	p := NewProcess(tb, name, env, args...)
	p.Start()
	return p
}

// NewProcess prepares the planet binary with args and extra env without
// starting it. The process is stopped (SIGKILL) when the test ends, and its
// output is printed if the test failed.
func NewProcess(tb testing.TB, name string, env []string, args ...string) *Process {
	tb.Helper()
	p := &Process{Name: name, args: args, env: env, tb: tb, log: &SyncBuffer{}}
	tb.Cleanup(func() {
		p.Signal(syscall.SIGCONT)
		p.Kill()
		if strings.Contains(p.log.String(), "WARNING: DATA RACE") {
			tb.Errorf("%s: data race in child process", name)
		}
		if tb.Failed() {
			tb.Logf("--- output of %s ---\n%s", name, p.log.String())
		}
	})
	return p
}

// AddEnv adds variables ("NAME=value") to the process's environment from
// its next Start on.
func (p *Process) AddEnv(kv ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.env = append(p.env[:len(p.env):len(p.env)], kv...)
}

// Start starts the process (again).
func (p *Process) Start() {
	p.tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := exec.Command(Binary(p.tb), p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.tb.Fatalf("starting %s: %v", p.Name, err)
	}
	ex := make(chan struct{})
	go func() { cmd.Wait(); close(ex) }()
	p.cmd, p.ex = cmd, ex
}

// Signal sends sig to the process if it is running.
func (p *Process) Signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		p.cmd.Process.Signal(sig)
	}
}

// Kill sends SIGKILL and waits for the process to exit.
func (p *Process) Kill() { p.stop(syscall.SIGKILL) }

// Terminate sends SIGTERM and waits for the process to exit.
func (p *Process) Terminate() { p.stop(syscall.SIGTERM) }

func (p *Process) stop(sig syscall.Signal) {
	p.mu.Lock()
	cmd, ex := p.cmd, p.ex
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-ex:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-ex
	}
}

// Output returns what the process printed so far.
func (p *Process) Output() string { return p.log.String() }

// SyncBuffer collects output; safe for concurrent use (process logs).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Region is one region's discovery process.
type Region struct {
	Name string
	IP   string
	Port int
	*Process
}

// Addr is the region's discovery address.
func (r *Region) Addr() string { return net.JoinHostPort(r.IP, strconv.Itoa(r.Port)) }

// Cluster is a set of regions whose discovery instances peer with each other.
type Cluster struct {
	Regions map[string]*Region
}

// StartDiscovery starts one discovery process per region name, each on
// its own loopback address and a free port, peered with all the others, in
// the order given.
func StartDiscovery(tb testing.TB, names ...string) *Cluster {
	tb.Helper()
	c := NewDiscovery(tb, names...)
	for _, n := range names {
		c.Regions[n].Start()
	}
	return c
}

// NewDiscovery prepares the regions of StartDiscovery without starting them.
func NewDiscovery(tb testing.TB, names ...string) *Cluster {
	tb.Helper()
	ips := FreeIPs(len(names))
	c := &Cluster{Regions: make(map[string]*Region)}
	var regions []*Region
	for i, n := range names {
		r := &Region{Name: n, IP: ips[i], Port: FreePort(tb, ips[i])}
		regions = append(regions, r)
		c.Regions[n] = r
	}
	for _, r := range regions {
		var peers []string
		for _, o := range regions {
			if o != r {
				peers = append(peers, o.Addr())
			}
		}
		env := []string{"REGION=" + r.Name, "WG_IP=" + r.IP, "BIND_HOST=" + r.IP,
			"DISCOVERY_PORT=" + strconv.Itoa(r.Port), "DISCOVERY_PEERS=" + strings.Join(peers, ","), "LOG_LEVEL=debug",
			"DATA_DIR=" + tb.TempDir()}
		r.Process = NewProcess(tb, r.Name+"/discovery", env, "discovery", "serve")
	}
	return c
}

// Instance mirrors the discovery API's instance (kept here so that tests
// read the wire format, not our Go types).
type Instance struct {
	Name     string    `json:"name"`
	Address  string    `json:"address"`
	Region   string    `json:"region"`
	Local    bool      `json:"local"`
	LastSeen time.Time `json:"last_seen"`
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

// List asks addr for a service's instances (scope "" or "local"); it returns
// nil on any error.
func List(addr, name, scope string) []Instance {
	url := "http://" + addr + "/v1/services/" + name
	if scope != "" {
		url += "?scope=" + scope
	}
	resp, err := httpClient.Get(url)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var out []Instance
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&out) != nil {
		return nil
	}
	return out
}

// Register registers name at address with ttl through addr's API.
func Register(tb testing.TB, addr, name, address, ttl string) {
	tb.Helper()
	body := fmt.Sprintf(`{"address":%q,"ttl":%q}`, address, ttl)
	req, _ := http.NewRequest("PUT", "http://"+addr+"/v1/services/"+name, strings.NewReader(body))
	resp, err := httpClient.Do(req)
	if err != nil {
		tb.Fatalf("register %s at %s: %v", name, addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		tb.Fatalf("register %s at %s: %d %s", name, addr, resp.StatusCode, b)
	}
}

// Healthy reports whether addr answers /health with 200.
func Healthy(addr string) bool {
	resp, err := httpClient.Get("http://" + addr + "/health")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// Has reports whether list holds an instance at address from region.
func Has(list []Instance, address, region string) bool {
	for _, in := range list {
		if in.Address == address && in.Region == region {
			return true
		}
	}
	return false
}
