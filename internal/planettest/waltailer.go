package planettest

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Tailer is one region's WAL tailer process.
type Tailer struct {
	*Process
	Region    string
	IP        string
	AdminPort int
	DataDir   string
}

// AdminAddr is the tailer's /health, /metrics and /v1/status address.
func (t *Tailer) AdminAddr() string { return net.JoinHostPort(t.IP, strconv.Itoa(t.AdminPort)) }

// NewTailer prepares the WAL tailer of region, reading the WALs of the
// replicas that share dataDir (NewStorage's), with extra env
// (WALTAILER_ANTI_ENTROPY_INTERVAL=...). Start it with Start.
func NewTailer(tb testing.TB, region *Region, dataDir string, env ...string) *Tailer {
	tb.Helper()
	t := &Tailer{Region: region.Name, IP: region.IP, AdminPort: FreePort(tb, region.IP), DataDir: dataDir}
	e := append([]string{
		"REGION=" + region.Name, "BIND_HOST=" + region.IP, "DISCOVERY_ADDR=" + region.Addr(),
		"WALTAILER_ADMIN_PORT=" + strconv.Itoa(t.AdminPort), "DATA_DIR=" + dataDir, "LOG_LEVEL=debug",
	}, env...)
	t.Process = NewProcess(tb, region.Name+"/waltailer", e, "waltailer", "serve")
	return t
}

// TailerStatus mirrors the fields of GET /v1/status that tests read (the
// wire format, not the Go types).
type TailerStatus struct {
	Region  string `json:"region"`
	Regions []struct {
		Region     string            `json:"region"`
		State      string            `json:"state"`
		Target     string            `json:"target"`
		Cursors    map[string]string `json:"cursors"`
		LagRecords uint64            `json:"lag_records"`
		LagBytes   uint64            `json:"lag_bytes"`
		LagSeconds float64           `json:"lag_seconds"`
		Retries    int               `json:"retries"`
	} `json:"regions"`
}

// Status returns the tailer's /v1/status; ok is false if it does not
// answer.
func (t *Tailer) Status() (TailerStatus, bool) {
	var st TailerStatus
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + t.AdminAddr() + "/v1/status")
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	return st, resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&st) == nil
}

// Metric returns one sample of the /metrics at addr, named as exposed
// (`waltailer_shipped_records_total{region="nyc"}`): 0 if absent, -1 if
// the endpoint does not answer.
func Metric(addr, sample string) float64 {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var body strings.Builder
	if _, err := io.Copy(&body, resp.Body); err != nil {
		return -1
	}
	for _, line := range strings.Split(body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return -1
			}
			return f
		}
	}
	return 0
}

// Geo is a three-region platform of processes: discovery, three storage
// replicas and a WAL tailer per region (sfo, nyc, ams), as `planet dev`
// runs it, on addresses and ports of the test's own.
type Geo struct {
	Names    []string
	Cluster  *Cluster
	Replicas map[string][]*Replica
	Tailers  map[string]*Tailer
	DataDirs map[string]string
}

// GeoOptions tunes StartGeo.
type GeoOptions struct {
	StorageEnv []string // extra env of every storage replica
	TailerEnv  []string // extra env of every tailer
	NoTailers  bool     // prepare the tailers without starting them
}

// StartGeo starts a three-region platform and waits until every replica
// knows its two peers and every tailer answers.
func StartGeo(tb testing.TB, o GeoOptions) *Geo {
	tb.Helper()
	g := &Geo{Names: []string{"sfo", "nyc", "ams"}, Replicas: make(map[string][]*Replica),
		Tailers: make(map[string]*Tailer), DataDirs: make(map[string]string)}
	g.Cluster = StartDiscovery(tb, g.Names...)
	for _, n := range g.Names {
		region := g.Cluster.Regions[n]
		dir := tb.TempDir()
		g.DataDirs[n] = dir
		g.Replicas[n] = NewStorage(tb, region, 3, dir, o.StorageEnv...)
		g.Tailers[n] = NewTailer(tb, region, dir, o.TailerEnv...)
	}
	for _, n := range g.Names {
		StartAll(tb, g.Replicas[n])
	}
	if !o.NoTailers {
		for _, n := range g.Names {
			g.StartTailer(tb, n)
		}
	}
	return g
}

// StartTailer starts region's tailer and waits until it answers.
func (g *Geo) StartTailer(tb testing.TB, region string) {
	tb.Helper()
	t := g.Tailers[region]
	t.Start()
	WaitFor(tb, 20*time.Second, region+"'s tailer to answer", func() bool {
		_, ok := t.Status()
		return ok
	})
}

// Addrs returns the RESP addresses of region's replicas.
func (g *Geo) Addrs(region string) []string {
	var out []string
	for _, r := range g.Replicas[region] {
		out = append(out, r.Addr())
	}
	return out
}

// AllReplicas returns every replica of every region.
func (g *Geo) AllReplicas() []*Replica {
	var out []*Replica
	for _, n := range g.Names {
		out = append(out, g.Replicas[n]...)
	}
	return out
}
