package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	pt "planet/internal/planettest"
)

// The two-namespace smoke test of the WireGuard mesh: two network
// namespaces joined by a veth pair (the underlay, 198.18.0.0/24), each
// running `planet wg up` on the embedded userspace device from one region
// table (the mesh, 198.19.0.0/24). Nothing here touches the host's own
// network: every address lives inside the namespaces the test made.

// netns is a network namespace the test made; Close removes it.
type netns struct {
	name string
}

// newNetns makes a namespace with lo up, removed when the test ends.
func newNetns(t *testing.T, name string) *netns {
	t.Helper()
	ns := &netns{name: name}
	exec.Command("ip", "netns", "del", name).Run() // a leftover of a killed run
	mustRun(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v %s", name, err, out)
		}
	})
	ns.run(t, "ip", "link", "set", "lo", "up")
	return ns
}

// run runs a command inside the namespace and fails the test if it fails.
func (ns *netns) run(t *testing.T, args ...string) string {
	t.Helper()
	return mustRun(t, append([]string{"ip", "netns", "exec", ns.name}, args...)...)
}

// do runs f on an OS thread that entered the namespace, so that the
// sockets f makes live there; then the thread returns to its own
// namespace. (A thread left to die instead would take with it the
// processes it had started: Pdeathsig follows the parent thread.)
func (ns *netns) do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return // still locked: the thread ends with the goroutine
		}
		defer unix.Close(self)
		fd, err := unix.Open("/var/run/netns/"+ns.name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			runtime.UnlockOSThread()
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns.name, err)
			runtime.UnlockOSThread()
			return
		}
		ferr := f()
		if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("returning from %s: %w", ns.name, err)
			return // still locked, in the wrong namespace: the thread ends
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// wgProc is `planet wg up` running inside a namespace.
type wgProc struct {
	cmd  *exec.Cmd
	log  *pt.SyncBuffer
	up   chan struct{}
	done chan struct{}
}

// startWG runs `planet wg up args...` in ns and waits for its "wg: up" line.
func startWG(t *testing.T, ns *netns, args ...string) *wgProc {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.name, pt.Binary(t), "wg", "up"}, args...)...)
	p := &wgProc{cmd: cmd, log: &pt.SyncBuffer{}, up: make(chan struct{}), done: make(chan struct{})}
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			p.log.Write([]byte(sc.Text() + "\n"))
			if strings.Contains(sc.Text(), wgUpLine) {
				once.Do(func() { close(p.up) })
			}
		}
	}()
	go func() { cmd.Wait(); w.Close(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-p.done
			t.Errorf("planet wg up in %s ignored SIGTERM for 10 s", ns.name)
		}
		if t.Failed() {
			t.Logf("--- planet wg up in %s ---\n%s", ns.name, p.log.String())
		}
	})
	select {
	case <-p.up:
	case <-p.done:
		t.Fatalf("planet wg up in %s exited:\n%s", ns.name, p.log.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("planet wg up in %s not up within 20 s:\n%s", ns.name, p.log.String())
	}
	return p
}

// wgUpLine is what `planet wg up` logs once the device is configured.
const wgUpLine = "wg: up"

// genkey writes a private key and returns the public key.
func genkey(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command(pt.Binary(t), "wg", "genkey", path).Output()
	if err != nil {
		t.Fatalf("planet wg genkey: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// handshake returns the latest handshake time (unix seconds) of the peer
// with public key pub on iface in ns, from `wg show ... latest-handshakes`.
func handshake(t *testing.T, ns *netns, iface, pub string) int64 {
	t.Helper()
	for _, line := range strings.Split(ns.run(t, "wg", "show", iface, "latest-handshakes"), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == pub {
			var ts int64
			fmt.Sscan(f[1], &ts)
			return ts
		}
	}
	return -1
}

// medianRTT measures round trips of one byte over c.
func medianRTT(c net.Conn, n int) (time.Duration, error) {
	var rtts []time.Duration
	buf := make([]byte, 1)
	for range n {
		start := time.Now()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte{'x'}); err != nil {
			return 0, err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return 0, err
		}
		rtts = append(rtts, time.Since(start))
	}
	slices.Sort(rtts)
	return rtts[len(rtts)/2], nil
}

func TestWireGuardMeshTwoNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the mesh smoke test makes network namespaces: run it as root (CI does)")
	}
	if _, err := exec.LookPath("wg"); err != nil {
		t.Fatal("wg not found: run `make deps` as root, or apt-get install wireguard-tools")
	}
	dir := t.TempDir()
	tag := fmt.Sprint(os.Getpid() % 100000)
	a, b := newNetns(t, "plnt-a-"+tag), newNetns(t, "plnt-b-"+tag)
	// The underlay: a veth pair, one end in each namespace.
	vethA, vethB := "pva"+tag, "pvb"+tag
	mustRun(t, "ip", "link", "add", vethA, "netns", a.name, "type", "veth", "peer", "name", vethB, "netns", b.name)
	a.run(t, "ip", "addr", "add", "198.18.0.1/24", "dev", vethA)
	b.run(t, "ip", "addr", "add", "198.18.0.2/24", "dev", vethB)
	a.run(t, "ip", "link", "set", vethA, "up")
	b.run(t, "ip", "link", "set", vethB, "up")

	keyA, keyB, keyC := filepath.Join(dir, "a.key"), filepath.Join(dir, "b.key"), filepath.Join(dir, "c.key")
	pubA, pubB, pubC := genkey(t, keyA), genkey(t, keyB), genkey(t, keyC)
	// ams never runs: a third peer whose endpoint changes, so that a
	// SIGHUP has something to change beside the live session.
	amsEndpoint := "198.18.0.3:51820"
	table := func() string {
		return fmt.Sprintf("mesh 198.19.0.0/24\n"+
			"region sfo 198.19.0.1 198.18.0.1:51820 %s\n"+
			"region nyc 198.19.0.2 198.18.0.2:51820 %s\n"+
			"region ams 198.19.0.3 %s %s\n", pubA, pubB, amsEndpoint, pubC)
	}
	tableA, tableB := filepath.Join(dir, "regions.a"), filepath.Join(dir, "regions.b")
	for _, f := range []string{tableA, tableB} {
		if err := os.WriteFile(f, []byte(table()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ifA, ifB := "plnta"+tag, "plntb"+tag
	t.Cleanup(func() {
		// planet wg up removes its UAPI socket when it stops; not if killed.
		for _, i := range []string{ifA, ifB} {
			os.Remove("/var/run/wireguard/" + i + ".sock")
		}
	})
	// Each side delays its own packets by half the RTT it is given.
	wa := startWG(t, a, "--table", tableA, "--region", "sfo", "--key", keyA, "--interface", ifA, "--emulate-rtt", "nyc=80ms")
	wb := startWG(t, b, "--table", tableB, "--region", "nyc", "--key", keyB, "--interface", ifB, "--emulate-rtt", "sfo=80ms")

	// TCP over the mesh: nyc listens on its mesh address, sfo dials it.
	var ln net.Listener
	if err := b.do(func() (err error) { ln, err = net.Listen("tcp", "198.19.0.2:7000"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	var conn net.Conn
	start := time.Now()
	if err := a.do(func() (err error) {
		d := net.Dialer{Timeout: 15 * time.Second}
		conn, err = d.DialContext(context.Background(), "tcp", "198.19.0.2:7000")
		return err
	}); err != nil {
		t.Fatalf("TCP over the mesh: %v", err)
	}
	defer conn.Close()
	t.Logf("TCP connection over the mesh (first handshake included) in %v", time.Since(start).Round(time.Millisecond))
	rtt, err := medianRTT(conn, 21)
	if err != nil {
		t.Fatalf("echo over the mesh: %v", err)
	}
	t.Logf("median RTT over the mesh with --emulate-rtt 80ms on both sides: %v", rtt.Round(100*time.Microsecond))
	if rtt < 70*time.Millisecond || rtt > 90*time.Millisecond {
		t.Errorf("RTT %v, want 80ms ± 10", rtt)
	}

	// wg show reads the embedded devices.
	show := a.run(t, "wg", "show", ifA)
	for _, want := range []string{pubB, "198.18.0.2:51820", "198.19.0.2/32", "latest handshake"} {
		if !strings.Contains(show, want) {
			t.Errorf("wg show %s lacks %q:\n%s", ifA, want, show)
		}
	}
	// planet wg status reads the live device against the table: nyc is
	// up, ams (never started) has never shaken hands, no drift.
	var st struct {
		Peers []struct {
			Region    string `json:"region"`
			State     string `json:"state"`
			Reachable bool   `json:"reachable"`
			RxBytes   int64  `json:"rx_bytes"`
		} `json:"peers"`
		Drift []struct{ Kind string } `json:"drift"`
	}
	out := a.run(t, pt.Binary(t), "wg", "status", "--interface", ifA, "--table", tableA, "--region", "sfo", "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("planet wg status --json: %v\n%s", err, out)
	}
	states := map[string]string{}
	for _, p := range st.Peers {
		states[p.Region] = fmt.Sprintf("%s/%v/%v", p.State, p.Reachable, p.RxBytes > 0)
	}
	if states["nyc"] != "up/true/true" || states["ams"] != "never/false/false" || len(st.Drift) != 0 {
		t.Errorf("planet wg status: %v, drift %v\n%s", states, st.Drift, out)
	}
	before := handshake(t, a, ifA, pubB)
	if before <= 0 {
		t.Fatalf("no handshake with nyc in wg show: %d", before)
	}

	// Change ams's endpoint in sfo's table and SIGHUP: ams's peer changes,
	// nyc's session stays (no new handshake, the connection goes on).
	amsEndpoint = "198.18.0.4:51821"
	if err := os.WriteFile(tableA, []byte(table()), 0o644); err != nil {
		t.Fatal(err)
	}
	wa.cmd.Process.Signal(syscall.SIGHUP)
	pt.WaitFor(t, 10*time.Second, "sfo's device to take ams's new endpoint", func() bool {
		return strings.Contains(a.run(t, "wg", "show", ifA, "endpoints"), "198.18.0.4:51821")
	})
	if _, err := medianRTT(conn, 3); err != nil {
		t.Fatalf("the TCP connection over the mesh broke at the reload: %v", err)
	}
	if after := handshake(t, a, ifA, pubB); after != before {
		t.Errorf("nyc's session was redone at the reload: handshake %d, was %d", after, before)
	}
	if !strings.Contains(a.run(t, "wg", "show", ifA, "endpoints"), "198.18.0.2:51820") {
		t.Error("nyc's endpoint changed at the reload")
	}

	// Rotate sfo's key in the documented order: the new public key reaches
	// nyc (table, reload) before sfo switches to it (key, reload). The TCP
	// connection over the mesh rides through.
	rot, err := exec.Command(pt.Binary(t), "wg", "rotate", "--table", tableA, "--region", "sfo", "--key", keyA).Output()
	if err != nil {
		t.Fatalf("planet wg rotate: %v\n%s", err, rot)
	}
	lines := strings.Split(string(rot), "\n")
	if len(lines) < 2 || len(strings.TrimSpace(lines[1])) != 44 {
		t.Fatalf("planet wg rotate printed:\n%s", rot)
	}
	pubA = strings.TrimSpace(lines[1])
	for _, f := range []string{tableA, tableB} {
		if err := os.WriteFile(f, []byte(table()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	start = time.Now()
	wb.cmd.Process.Signal(syscall.SIGHUP)
	pt.WaitFor(t, 10*time.Second, "nyc to take sfo's new key", func() bool {
		return strings.Contains(b.run(t, "wg", "show", ifB, "peers"), pubA)
	})
	if err := os.Rename(keyA+".new", keyA); err != nil {
		t.Fatal(err)
	}
	wa.cmd.Process.Signal(syscall.SIGHUP)
	if _, err := medianRTT(conn, 1); err != nil {
		t.Fatalf("the TCP connection over the mesh broke during the key rotation: %v", err)
	}
	t.Logf("key rotation: first echo %v after nyc's reload (the connection stayed open)", time.Since(start).Round(time.Millisecond))
	if h := handshake(t, b, ifB, pubA); h <= 0 {
		t.Errorf("nyc has no handshake with sfo's new key")
	}
	if strings.Contains(b.run(t, "wg", "show", ifB, "peers"), pubA) && strings.Count(b.run(t, "wg", "show", ifB, "peers"), "\n") != 2 {
		t.Errorf("nyc's peers after the rotation:\n%s", b.run(t, "wg", "show", ifB, "peers"))
	}
}
