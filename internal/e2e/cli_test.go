package e2e

import (
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	pt "planet/internal/planettest"
)

// TestDiscoveryCLI drives `planet discovery register|list|deregister|regions`
// against real regions: plain output is one address per line, --json is the
// API's instances.
func TestDiscoveryCLI(t *testing.T) {
	c := pt.StartDiscovery(t, "sfo", "nyc")
	waitFederated(t, c)
	sfo, nyc := c.Regions["sfo"], c.Regions["nyc"]
	run := func(args ...string) (string, error) {
		out, err := exec.Command(pt.Binary(t), args...).Output()
		return string(out), err
	}
	must := func(args ...string) string {
		out, err := run(args...)
		if err != nil {
			t.Fatalf("planet %v: %v", args, err)
		}
		return out
	}
	must("discovery", "register", "web", "127.0.0.1:8080", "--ttl", "1m", "--addr", sfo.Addr())
	must("discovery", "register", "web", "127.0.0.1:8081", "--addr", sfo.Addr())
	want := net.JoinHostPort(sfo.IP, "8080") + "\n" + net.JoinHostPort(sfo.IP, "8081") + "\n"
	pt.WaitFor(t, 5*time.Second, "nyc's plain list shows both", func() bool {
		out, err := run("discovery", "list", "web", "--addr", nyc.Addr())
		return err == nil && out == want
	})
	if out := must("discovery", "list", "web", "--local", "--addr", nyc.Addr()); out != "" {
		t.Errorf("nyc list --local = %q, want nothing", out)
	}
	var instances []pt.Instance
	if err := json.Unmarshal([]byte(must("discovery", "list", "web", "--json", "--local", "--addr", sfo.Addr())), &instances); err != nil {
		t.Fatal(err)
	}
	if len(instances) != 2 || instances[0].Address != "127.0.0.1:8080" || instances[0].Region != "sfo" || !instances[0].Local {
		t.Errorf("sfo list --json --local = %+v", instances)
	}
	regions := must("discovery", "regions", "--addr", nyc.Addr())
	if !strings.Contains(regions, "sfo") || strings.Count(regions, "alive") != 2 {
		t.Errorf("regions =\n%s", regions)
	}

	must("discovery", "deregister", "web", "127.0.0.1:8080", "--addr", sfo.Addr())
	pt.WaitFor(t, 5*time.Second, "nyc drops the deregistered instance", func() bool {
		out, err := run("discovery", "list", "web", "--addr", nyc.Addr())
		return err == nil && out == net.JoinHostPort(sfo.IP, "8081")+"\n"
	})
	if _, err := run("discovery", "deregister", "web", "127.0.0.1:8080", "--addr", sfo.Addr()); err == nil {
		t.Error("deregistering an unknown instance succeeded")
	}
	if _, err := run("discovery", "list", "web", "--addr", "127.0.0.1:1"); err == nil {
		t.Error("list against a closed port succeeded")
	}
}
