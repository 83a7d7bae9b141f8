package caching

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"planet/discovery/api"
	pt "planet/internal/planettest"
	"planet/internal/secret"
)

// fakeNet is the discovery of a test's regions: what every cache
// registered, and in which region.
type fakeNet struct {
	mu   sync.Mutex
	regs map[string][2]string // address -> name, region, while registered
}

// fakeDiscovery is one region's view of a fakeNet: it records
// registrations instead of sending them, and lists them back.
type fakeDiscovery struct {
	region string
	net    *fakeNet // shared by a test's regions; nil: one of its own
	once   sync.Once
}

func (d *fakeDiscovery) fnet() *fakeNet {
	d.once.Do(func() {
		if d.net == nil {
			d.net = &fakeNet{}
		}
	})
	return d.net
}

func (d *fakeDiscovery) Register(ctx context.Context, name, addr string) error {
	d.set(addr, name)
	<-ctx.Done()
	d.set(addr, "")
	return nil
}

func (d *fakeDiscovery) set(addr, name string) {
	n := d.fnet()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.regs == nil {
		n.regs = make(map[string][2]string)
	}
	if name == "" {
		delete(n.regs, addr)
	} else {
		n.regs[addr] = [2]string{name, d.region}
	}
}

func (d *fakeDiscovery) lookup(addr string) string {
	n := d.fnet()
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.regs[addr][0]
}

func (d *fakeDiscovery) List(_ context.Context, name string) ([]api.Instance, error) {
	return d.list(name, false), nil
}

func (d *fakeDiscovery) ListLocal(_ context.Context, name string) ([]api.Instance, error) {
	return d.list(name, true), nil
}

func (d *fakeDiscovery) list(name string, local bool) []api.Instance {
	n := d.fnet()
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []api.Instance
	for addr, reg := range n.regs {
		if reg[0] == name && (!local || reg[1] == d.region) {
			out = append(out, api.Instance{Name: name, Address: addr, Region: reg[1], Local: reg[1] == d.region})
		}
	}
	return out
}

var _ Discovery = (*fakeDiscovery)(nil)

// get returns the body of http://addr/path.
func get(tb testing.TB, addr, path string) string {
	tb.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
	}
	return string(b)
}

func TestServerRegistersInDiscovery(t *testing.T) {
	d := &fakeDiscovery{}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(Config{Port: -1, Region: "sfo", Discovery: d})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	pt.WaitFor(t, 5*time.Second, "the registration", func() bool { return d.lookup(s.Addr()) == ServiceName })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := d.lookup(s.Addr()); got != "" {
		t.Errorf("still registered as %q after Run returned", got)
	}
}

func TestAdminHealthAndMetrics(t *testing.T) {
	s := startServer(t, Config{Region: "sfo", MaxMemory: 1 << 20})
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for _, cmd := range []string{"SET a 1", "GET a", "GET a", "GET nope", "INCR a", "INCR nope2", "NOSUCH"} {
		inline(t, c, r, cmd)
	}
	var health map[string]any
	if err := json.Unmarshal([]byte(get(t, s.AdminAddr(), "/health")), &health); err != nil {
		t.Fatal(err)
	}
	if health["status"] != "ok" || health["region"] != "sfo" || health["keys"] != 2.0 {
		t.Errorf("/health = %v", health)
	}
	metrics := get(t, s.AdminAddr(), "/metrics")
	for _, want := range []string{
		"caching_hits_total 2\n", "caching_misses_total 1\n", "caching_evictions_total 0\n",
		"caching_expirations_total 0\n", "caching_maxmemory_bytes 1.048576e+06\n", "caching_keys 2\n",
		"caching_connections 1\n", `caching_commands_total{command="get",result="ok"} 3`,
		`caching_commands_total{command="unknown",result="error"} 1`, "caching_memory_used_bytes ",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics)
		}
	}
}

func TestPasswords(t *testing.T) {
	sec := secret.Random()
	s := startServer(t, Config{Password: "app-pass", Secret: sec})
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for _, tc := range []struct{ cmd, want string }{
		{"GET a", "-NOAUTH Authentication required."},
		{"AUTH wrong", "-WRONGPASS invalid username-password pair or user is disabled."},
		{"AUTH app-pass", "+OK"},
		{"SET a 1", "+OK"},
		{"AUTH planet " + sec.RESPPassword(), "+OK"},
		{"GET a", "$1"},
	} {
		if got := inline(t, c, r, tc.cmd); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.cmd, got, tc.want)
		}
	}
}
