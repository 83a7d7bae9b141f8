package planettest

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"planet/internal/peer"
)

// Replica is one storage replica process.
type Replica struct {
	*Process
	Region    string
	IP        string
	Port      int
	AdminPort int
	// Password is the replica's STORAGE_PASSWORD, from NewStorage's env.
	Password string
}

// Addr is the replica's RESP address.
func (r *Replica) Addr() string { return net.JoinHostPort(r.IP, strconv.Itoa(r.Port)) }

// AdminAddr is the replica's /health and /metrics address.
func (r *Replica) AdminAddr() string { return net.JoinHostPort(r.IP, strconv.Itoa(r.AdminPort)) }

// NewStorage prepares n storage replicas of region (registered with its
// discovery) on free ports, sharing dataDir, with extra env (QUORUM_W=...).
// Start them with StartAll.
func NewStorage(tb testing.TB, region *Region, n int, dataDir string, env ...string) []*Replica {
	tb.Helper()
	var rs []*Replica
	for range n {
		r := &Replica{Region: region.Name, IP: region.IP, Port: FreePort(tb, region.IP), AdminPort: FreePort(tb, region.IP)}
		e := append([]string{
			"REGION=" + region.Name, "BIND_HOST=" + region.IP, "DISCOVERY_ADDR=" + region.Addr(),
			"PORT=" + strconv.Itoa(r.Port), "ADMIN_PORT=" + strconv.Itoa(r.AdminPort), "DATA_DIR=" + dataDir,
			"LOG_LEVEL=debug",
		}, env...)
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, "STORAGE_PASSWORD="); ok {
				r.Password = v
			}
		}
		r.Process = NewProcess(tb, region.Name+"/storage-"+strconv.Itoa(r.Port), e, "storage", "serve")
		rs = append(rs, r)
	}
	return rs
}

// StartAll starts the replicas and waits until each knows all the others.
func StartAll(tb testing.TB, rs []*Replica) {
	tb.Helper()
	for _, r := range rs {
		r.Start()
	}
	for _, r := range rs {
		WaitPeers(tb, r, len(rs)-1)
	}
}

// WaitPeers waits until replica r reports n peers.
func WaitPeers(tb testing.TB, r *Replica, n int) {
	tb.Helper()
	WaitFor(tb, 30*time.Second, r.Name+" to see "+strconv.Itoa(n)+" peers", func() bool {
		return PeersAuth(r.Addr(), r.Password) == n
	})
}

// Peers asks the replica at addr for its peer count (-1 if it does not
// answer).
func Peers(addr string) int { return PeersAuth(addr, "") }

// PeersAuth is Peers for a replica with an application password.
func PeersAuth(addr, password string) int {
	c := peer.New(addr, peer.Config{Conns: 1, Password: password})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r, err := c.Do(ctx, []byte("PEERS"))
	if err != nil || r.Kind != peer.KindArray || len(r.Array) < 2 {
		return -1
	}
	return int(r.Array[1].Int)
}
