package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	pt "planet/internal/planettest"
)

// TestTailerTargetReplicaDown: when the remote replica that took the last
// batches is killed, another replica of that region takes the next ones,
// and the region's two live replicas hold every write (W=2 there).
func TestTailerTargetReplicaDown(t *testing.T) {
	g := pt.StartGeo(t, pt.GeoOptions{TailerEnv: geoTailerEnv})
	ctx := context.Background()
	sfo := rdb(t, g.Replicas["sfo"][0])
	mustOK(t, sfo.Set(ctx, "failover/first", "1", 0).Err())
	waitHeld(t, "the first write in nyc", replicaClients(t, g.Replicas["nyc"]), map[string]string{"failover/first": "1"})

	var target string
	pt.WaitFor(t, 10*time.Second, "sfo's tailer to report its target in nyc", func() bool {
		st, ok := g.Tailers["sfo"].Status()
		for _, r := range st.Regions {
			if ok && r.Region == "nyc" {
				target = r.Target
			}
		}
		return target != ""
	})
	var live []*pt.Replica
	for _, r := range g.Replicas["nyc"] {
		if r.Addr() == target {
			r.Kill()
		} else {
			live = append(live, r)
		}
	}
	if len(live) != 2 {
		t.Fatalf("target %s is not one of nyc's replicas", target)
	}
	want := make(map[string]string)
	for i := range 50 {
		k := fmt.Sprintf("failover/%d", i)
		mustOK(t, sfo.Set(ctx, k, "v", 0).Err())
		want[k] = "v"
	}
	d := waitHeld(t, "sfo's writes on nyc's two live replicas", replicaClients(t, live), want)
	st, _ := g.Tailers["sfo"].Status()
	for _, r := range st.Regions {
		if r.Region == "nyc" {
			if r.Target == target || r.Target == "" {
				t.Errorf("the target in nyc is still %q after it was killed", r.Target)
			}
			t.Logf("nyc's replica %s killed: %s took the batches; the writes were on the live replicas %v after the last one", target, r.Target, d.Round(time.Millisecond))
		}
	}
}
