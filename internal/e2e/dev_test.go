package e2e

import (
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	pt "planet/internal/planettest"
)

// TestPlanetDev runs `planet dev` on addresses of its own, controls a child
// through `planet dev kill/start`, and checks that Ctrl-C stops everything.
func TestPlanetDev(t *testing.T) {
	prefix := pt.FreeIPPrefix()
	ips := []string{prefix + ".1", prefix + ".2", prefix + ".3"}
	port := pt.FreePort(t, ips[0])
	control := "127.0.0.1:" + strconv.Itoa(pt.FreePort(t, "127.0.0.1"))
	dev := pt.StartProcess(t, "planet dev", nil, "dev", "--ip-prefix", prefix,
		"--discovery-port", strconv.Itoa(port), "--control", control, "--data-dir", t.TempDir())
	addr := func(i int) string { return ips[i] + ":" + strconv.Itoa(port) }
	for i := range 3 {
		pt.WaitFor(t, 20*time.Second, addr(i)+" federated", func() bool { return aliveRegions(addr(i)) == 3 })
	}
	pt.WaitFor(t, 5*time.Second, "the banner", func() bool { return strings.Contains(dev.Output(), "all regions up") })
	if !strings.Contains(dev.Output(), "sfo/discovery | ") {
		t.Error("child logs are not prefixed with region/service")
	}

	ctl := func(args ...string) string {
		out, err := exec.Command(pt.Binary(t), append([]string{"dev"}, append(args, "--control", control)...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("planet dev %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	var procs []struct {
		Name, State string
		PID         int
	}
	if err := json.Unmarshal([]byte(ctl("ps", "--json")), &procs); err != nil || len(procs) != 18 {
		t.Fatalf("ps --json: %v %+v; want discovery, three storage replicas, a WAL tailer and a cache per region", err, procs)
	}
	for _, p := range []string{"10600", "10601", "10602"} {
		pt.WaitFor(t, 20*time.Second, "sfo's storage "+p+" to see its two peers", func() bool {
			return pt.Peers(ips[0]+":"+p) == 2
		})
	}
	ctl("kill", "ams", "discovery")
	pt.WaitFor(t, 5*time.Second, "ams's discovery down", func() bool { return !pt.Healthy(addr(2)) })
	pt.WaitFor(t, 15*time.Second, "sfo sees 2 regions alive", func() bool { return aliveRegions(addr(0)) == 2 })
	ctl("start", "ams", "discovery")
	pt.WaitFor(t, 20*time.Second, "sfo sees 3 regions alive", func() bool { return aliveRegions(addr(0)) == 3 })

	var pids []int
	json.Unmarshal([]byte(ctl("ps", "--json")), &procs)
	for _, p := range procs {
		pids = append(pids, p.PID)
	}
	dev.Signal(syscall.SIGINT)
	pt.WaitFor(t, 15*time.Second, "every child exits after Ctrl-C", func() bool {
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil {
				return false
			}
		}
		return true
	})
}
