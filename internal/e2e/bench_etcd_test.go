package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pt "planet/internal/planettest"
)

// The etcd system of the storage benchmark: three members on loopback,
// driven through etcd's v3 JSON gateway with the standard library (no etcd
// client module in go.mod).

// startEtcdTrio starts a three-member etcd cluster (static bootstrap, data
// in a temporary directory) and waits until every member reports healthy.
// Client number i talks to member i mod 3, as etcd's own client spreads
// over its endpoints.
func startEtcdTrio(tb testing.TB) *benchSystem {
	tb.Helper()
	path := requireBinary(tb, "etcd", "etcd-server")
	dir := tb.TempDir()
	type member struct{ name, client, peer string }
	ms := make([]member, 3)
	var initial []string
	for i := range ms {
		url := func() string { return fmt.Sprintf("http://127.0.0.1:%d", pt.FreePort(tb, "127.0.0.1")) }
		ms[i] = member{name: fmt.Sprint("m", i), client: url(), peer: url()}
		initial = append(initial, ms[i].name+"="+ms[i].peer)
	}
	ds := make([]*daemon, len(ms))
	for i, m := range ms {
		ds[i] = startDaemon(tb, "etcd "+m.name, path, "--name", m.name, "--data-dir", filepath.Join(dir, m.name),
			"--listen-client-urls", m.client, "--advertise-client-urls", m.client,
			"--listen-peer-urls", m.peer, "--initial-advertise-peer-urls", m.peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "planet-bench", "--logger", "zap", "--log-level", "warn")
	}
	sys := &benchSystem{
		dial: func(client int) kvConn { return newEtcdConn(ms[client%len(ms)].client) },
		stop: func() {
			for _, d := range ds {
				d.stop()
			}
		},
	}
	for i, m := range ms {
		pt.WaitFor(tb, 30*time.Second, "etcd "+m.name+" to report health", func() bool {
			ds[i].alive(tb)
			return etcdHealthy(m.client)
		})
		sys.pids = append(sys.pids, ds[i].pid())
	}
	return sys
}

// etcdHealthy reports whether the member at base answers /health with
// {"health":"true"} (it has a leader).
func etcdHealthy(base string) bool {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	resp, err := c.Get(base + "/health")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var h struct {
		Health string `json:"health"`
	}
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&h) == nil && h.Health == "true"
}

// etcdVersion returns etcd's version ("3.4.23"), or "?".
func etcdVersion() string {
	out, _ := exec.Command("etcd", "--version").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "etcd Version: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// etcdConn is one client's keep-alive HTTP/1.1 connection to an etcd
// member's v3 JSON gateway. Keys and values travel base64-encoded (JSON's
// form of bytes); a range without "serializable" is linearizable.
type etcdConn struct {
	base string
	hc   *http.Client
}

var _ kvConn = (*etcdConn)(nil)

func newEtcdConn(base string) *etcdConn {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true} // no proxy
	return &etcdConn{base: base, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

type etcdKV struct {
	Key   []byte `json:"key"`
	Value []byte `json:"value,omitempty"`
}

func (e *etcdConn) Set(ctx context.Context, key, value string) error {
	_, err := e.call(ctx, "/v3/kv/put", etcdKV{Key: []byte(key), Value: []byte(value)})
	return err
}

func (e *etcdConn) Get(ctx context.Context, key string) (string, bool, error) {
	body, err := e.call(ctx, "/v3/kv/range", etcdKV{Key: []byte(key)})
	if err != nil {
		return "", false, err
	}
	var r struct {
		Kvs []etcdKV `json:"kvs"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", false, fmt.Errorf("range reply %q: %w", body, err)
	}
	if len(r.Kvs) == 0 {
		return "", false, nil
	}
	return string(r.Kvs[0].Value), true, nil
}

// call POSTs req as JSON to path and returns the reply's body, reading it
// to the end so that the connection is reused.
func (e *etcdConn) call(ctx context.Context, path string, req etcdKV) ([]byte, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, e.base+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := e.hc.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST %s: %s: %s", path, resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

func (e *etcdConn) Close() error {
	e.hc.CloseIdleConnections()
	return nil
}
