package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"planet/discovery/client"
	pt "planet/internal/planettest"
)

// deathDeadline is the contract: a dead region drops out of every other
// region's list within 15 seconds.
const deathDeadline = 15 * time.Second

func waitFederated(t testing.TB, c *pt.Cluster) {
	t.Helper()
	for _, r := range c.Regions {
		pt.WaitFor(t, 20*time.Second, r.Name+" sees every region alive", func() bool {
			return aliveRegions(r.Addr()) == len(c.Regions)
		})
	}
}

func aliveRegions(addr string) int {
	resp, err := http.Get("http://" + addr + "/v1/regions")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var regions []struct{ State string }
	if json.NewDecoder(resp.Body).Decode(&regions) != nil {
		return -1
	}
	n := 0
	for _, r := range regions {
		if r.State == "alive" {
			n++
		}
	}
	return n
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func deregister(t *testing.T, addr, name, address string) {
	t.Helper()
	req, _ := http.NewRequest("DELETE", "http://"+addr+"/v1/services/"+name+"?address="+address, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("deregister: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestFederationPropagatesRegisterAndDeregister(t *testing.T) {
	c := pt.StartDiscovery(t, "sfo", "nyc", "ams")
	waitFederated(t, c)
	sfo, nyc, ams := c.Regions["sfo"], c.Regions["nyc"], c.Regions["ams"]

	pt.Register(t, sfo.Addr(), "web", "127.0.0.1:8080", "1m")
	wgAddr := net.JoinHostPort(sfo.IP, "8080") // loopback rewritten to sfo's WG_IP
	for _, r := range []*pt.Region{nyc, ams} {
		pt.WaitFor(t, 5*time.Second, r.Name+" lists sfo's web", func() bool {
			return pt.Has(pt.List(r.Addr(), "web", ""), wgAddr, "sfo")
		})
		for _, in := range pt.List(r.Addr(), "web", "") {
			if in.Local || in.Name != "web" {
				t.Errorf("%s: federated instance %+v", r.Name, in)
			}
		}
		if local := pt.List(r.Addr(), "web", "local"); len(local) != 0 {
			t.Errorf("%s list_local shows another region's instances: %+v", r.Name, local)
		}
	}
	own := pt.List(sfo.Addr(), "web", "local")
	if len(own) != 1 || own[0].Address != "127.0.0.1:8080" || !own[0].Local {
		t.Errorf("sfo list_local = %+v", own)
	}

	metrics := get(t, "http://"+nyc.Addr()+"/metrics")
	for _, want := range []string{
		`planet_discovery_entries{region="sfo",scope="federated"} 1`,
		`planet_discovery_entries{region="nyc",scope="local"} 0`,
		`planet_discovery_gossip_members{state="alive"} 3`,
		`planet_discovery_http_requests_total{route="/v1/services/{name}",code="200"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("nyc /metrics lacks %q", want)
		}
	}
	// The delay is observed when a region learns the entry from its
	// broadcast; one that learned it first from a periodic full-state
	// exchange observes nothing, so ask both.
	pt.WaitFor(t, 5*time.Second, "nyc or ams to observe a propagation delay", func() bool {
		for _, r := range []*pt.Region{nyc, ams} {
			if !strings.Contains(get(t, "http://"+r.Addr()+"/metrics"), "planet_discovery_propagation_delay_seconds_count 0\n") {
				return true
			}
		}
		return false
	})

	// A second region's instance: list shows both regions, list_local one.
	pt.Register(t, nyc.Addr(), "web", "10.1.2.3:8080", "1m")
	pt.WaitFor(t, 5*time.Second, "ams lists both regions' web", func() bool {
		l := pt.List(ams.Addr(), "web", "")
		return len(l) == 2 && pt.Has(l, wgAddr, "sfo") && pt.Has(l, "10.1.2.3:8080", "nyc")
	})
	if l := pt.List(nyc.Addr(), "web", "local"); len(l) != 1 || l[0].Region != "nyc" {
		t.Errorf("nyc list_local = %+v", l)
	}

	deregister(t, sfo.Addr(), "web", "127.0.0.1:8080")
	for _, r := range []*pt.Region{nyc, ams} {
		pt.WaitFor(t, 5*time.Second, r.Name+" drops sfo's web", func() bool {
			l := pt.List(r.Addr(), "web", "")
			return l != nil && !pt.Has(l, wgAddr, "sfo")
		})
	}
}

// heartbeat keeps name registered in region r through the real client
// until the test ends.
func heartbeat(t *testing.T, r *pt.Region, name, address string) {
	cl, err := client.New(client.Config{Addr: r.Addr(), TTL: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); cl.Register(ctx, name, address) }()
	t.Cleanup(func() { cancel(); <-done })
}

func TestRegionFailureAndReturn(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fail, back func(r *pt.Region)
	}{
		{"SIGKILL and restart", func(r *pt.Region) { r.Kill() }, func(r *pt.Region) { r.Start() }},
		{"SIGSTOP and SIGCONT", func(r *pt.Region) { r.Signal(syscall.SIGSTOP) }, func(r *pt.Region) { r.Signal(syscall.SIGCONT) }},
		{"SIGTERM (graceful leave) and restart", func(r *pt.Region) { r.Terminate() }, func(r *pt.Region) { r.Start() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := pt.StartDiscovery(t, "sfo", "nyc", "ams")
			waitFederated(t, c)
			ams := c.Regions["ams"]
			heartbeat(t, ams, "api", "127.0.0.1:9000")
			wgAddr := net.JoinHostPort(ams.IP, "9000")
			others := []*pt.Region{c.Regions["sfo"], c.Regions["nyc"]}
			for _, r := range others {
				pt.WaitFor(t, 10*time.Second, r.Name+" lists ams's api", func() bool {
					return pt.Has(pt.List(r.Addr(), "api", ""), wgAddr, "ams")
				})
			}

			tc.fail(ams)
			start := time.Now()
			for _, r := range others {
				pt.WaitFor(t, deathDeadline-time.Since(start), r.Name+" drops ams's api", func() bool {
					l := pt.List(r.Addr(), "api", "")
					return l != nil && !pt.Has(l, wgAddr, "ams")
				})
			}
			t.Logf("ams's entries gone from sfo and nyc after %v", time.Since(start).Round(time.Millisecond))

			tc.back(ams)
			start = time.Now()
			for _, r := range others {
				pt.WaitFor(t, 20*time.Second, r.Name+" lists ams's api again", func() bool {
					return pt.Has(pt.List(r.Addr(), "api", ""), wgAddr, "ams")
				})
			}
			t.Logf("ams's entries back after %v", time.Since(start).Round(time.Millisecond))
			waitFederated(t, c)
		})
	}
}

func TestStartOrderReversedAndPeersDownAtStart(t *testing.T) {
	c := pt.NewDiscovery(t, "sfo", "nyc", "ams")
	ams := c.Regions["ams"]
	ams.Start() // its peers are down: it must keep trying
	pt.WaitFor(t, 10*time.Second, "ams is up alone", func() bool { return pt.Healthy(ams.Addr()) })
	pt.Register(t, ams.Addr(), "queue", "127.0.0.1:7000", "1m")
	pt.WaitFor(t, 10*time.Second, "ams has tried its peers", func() bool {
		return strings.Contains(ams.Output(), "joining peers failed")
	})
	c.Regions["nyc"].Start()
	c.Regions["sfo"].Start()
	waitFederated(t, c)
	for _, r := range []*pt.Region{c.Regions["sfo"], c.Regions["nyc"]} {
		pt.WaitFor(t, 10*time.Second, r.Name+" lists ams's queue", func() bool {
			return pt.Has(pt.List(r.Addr(), "queue", ""), net.JoinHostPort(ams.IP, "7000"), "ams")
		})
	}
}

func TestClientServesLastAnswerWhileDiscoveryRestarts(t *testing.T) {
	c := pt.StartDiscovery(t, "sfo", "nyc")
	waitFederated(t, c)
	sfo, nyc := c.Regions["sfo"], c.Regions["nyc"]
	pt.Register(t, sfo.Addr(), "storage", "127.0.0.1:10600", "1m")
	cl, err := client.New(client.Config{Addr: nyc.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var before []string
	pt.WaitFor(t, 5*time.Second, "nyc lists sfo's storage", func() bool {
		l, err := cl.List(ctx, "storage")
		before = nil
		for _, in := range l {
			before = append(before, in.Address)
		}
		return err == nil && len(l) == 1
	})

	nyc.Kill()
	for i := 0; i < 3; i++ {
		l, err := cl.List(ctx, "storage")
		if err != nil || len(l) != 1 || l[0].Address != before[0] {
			t.Fatalf("List while nyc is down = %+v, %v; want the last answer %v", l, err, before)
		}
	}
	if _, err := cl.List(ctx, "never-asked"); err == nil {
		t.Fatal("List of a service never asked succeeded while discovery is down")
	}

	nyc.Start()
	pt.Register(t, sfo.Addr(), "storage", "127.0.0.1:10601", "1m")
	pt.WaitFor(t, 20*time.Second, "the client sees fresh answers again", func() bool {
		l, err := cl.List(ctx, "storage")
		return err == nil && len(l) == 2
	})
}
