package discovery

import (
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
)

// startServer runs a one-region Server on a loopback port (a free one
// unless cfg.Port is set) until the test ends.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, _ := startStoppableServer(t, cfg)
	return s
}

// startStoppableServer is startServer that also returns a function that
// stops the server (at most once; the test's end calls it too).
func startStoppableServer(t testing.TB, cfg Config) (*Server, func()) {
	t.Helper()
	if cfg.Region == "" {
		cfg.Region = "sfo"
	}
	if cfg.WGIP == nil {
		cfg.WGIP = net.ParseIP("127.0.0.1")
	}
	if cfg.Port == 0 {
		cfg.Port = -1
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("server did not stop within 10s")
			}
		})
	}
	t.Cleanup(stop)
	pt.WaitFor(t, 5*time.Second, "server answers /health", func() bool {
		resp, err := http.Get("http://" + s.Addr() + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return s, stop
}

func do(t testing.TB, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAPIRegisterListDeregister(t *testing.T) {
	s := startServer(t, Config{})
	base := "http://" + s.Addr() + "/v1/services/web"
	code, body := do(t, "PUT", base, `{"address":"127.0.0.1:8080","ttl":"15s"}`)
	if code != http.StatusOK {
		t.Fatalf("PUT = %d %s", code, body)
	}
	for _, url := range []string{base, base + "?scope=local"} {
		code, body = do(t, "GET", url, "")
		var list []api.Instance
		if err := json.Unmarshal([]byte(body), &list); err != nil || code != 200 {
			t.Fatalf("GET %s = %d %s (%v)", url, code, body, err)
		}
		if len(list) != 1 || list[0].Address != "127.0.0.1:8080" || list[0].Region != "sfo" || !list[0].Local || list[0].LastSeen.IsZero() {
			t.Fatalf("GET %s = %+v", url, list)
		}
	}
	code, body = do(t, "GET", "http://"+s.Addr()+"/v1/services/nothing", "")
	if code != 200 || strings.TrimSpace(body) != "[]" {
		t.Fatalf("GET unknown service = %d %q, want 200 []", code, body)
	}
	if code, body = do(t, "DELETE", base+"?address=127.0.0.1:8080", ""); code != 200 {
		t.Fatalf("DELETE = %d %s", code, body)
	}
	if s.Registry().Len() != 0 {
		t.Fatal("entry still registered after DELETE")
	}
}

func TestAPIRejectsBadInput(t *testing.T) {
	s := startServer(t, Config{})
	base := "http://" + s.Addr()
	if code, body := do(t, "PUT", base+"/v1/services/web", `{"address":"127.0.0.1:8080","ttl":"15s"}`); code != 200 {
		t.Fatalf("setup PUT = %d %s", code, body)
	}
	long := strings.Repeat("a", api.MaxNameLen+1)
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
	}{
		{"invalid JSON", "PUT", "/v1/services/web", `{"address":`, 400},
		{"not an object", "PUT", "/v1/services/web", `["127.0.0.1:1"]`, 400},
		{"unknown field", "PUT", "/v1/services/web", `{"address":"127.0.0.1:1","ttl":"15s","tags":[]}`, 400},
		{"trailing data", "PUT", "/v1/services/web", `{"address":"127.0.0.1:1","ttl":"15s"} {}`, 400},
		{"empty name", "PUT", "/v1/services/", `{"address":"127.0.0.1:1","ttl":"15s"}`, 400},
		{"over-long name", "PUT", "/v1/services/" + long, `{"address":"127.0.0.1:1","ttl":"15s"}`, 400},
		{"name with slash", "PUT", "/v1/services/a/b", `{"address":"127.0.0.1:1","ttl":"15s"}`, 400},
		{"name with bad character", "PUT", "/v1/services/we%20b", `{"address":"127.0.0.1:1","ttl":"15s"}`, 400},
		{"name ..", "PUT", "/v1/services/%2e%2e", `{"address":"127.0.0.1:1","ttl":"15s"}`, 400},
		{"name .", "PUT", "/v1/services/%2e", `{"address":"127.0.0.1:1","ttl":"15s"}`, 400},
		{"name .. half escaped", "PUT", "/v1/services/.%2e", `{"address":"127.0.0.1:1","ttl":"15s"}`, 400},
		{"name .. upper case escaped", "PUT", "/v1/services/%2E%2E", `{"address":"127.0.0.1:1","ttl":"15s"}`, 400},
		{"name .. unescaped (the path cleans to /v1)", "PUT", "/v1/services/..", `{"address":"127.0.0.1:1","ttl":"15s"}`, 404},
		{"list ..", "GET", "/v1/services/%2e%2e", "", 400},
		{"list_local .", "GET", "/v1/services/%2e?scope=local", "", 400},
		{"deregister ..", "DELETE", "/v1/services/%2e%2e?address=127.0.0.1:8080", "", 400},
		{"deregister .", "DELETE", "/v1/services/%2e?address=127.0.0.1:8080", "", 400},
		{"address missing", "PUT", "/v1/services/web", `{"ttl":"15s"}`, 400},
		{"address without port", "PUT", "/v1/services/web", `{"address":"127.0.0.1","ttl":"15s"}`, 400},
		{"address with bad port", "PUT", "/v1/services/web", `{"address":"127.0.0.1:70000","ttl":"15s"}`, 400},
		{"address with bad host", "PUT", "/v1/services/web", `{"address":"a b:80","ttl":"15s"}`, 400},
		{"ttl missing", "PUT", "/v1/services/web", `{"address":"127.0.0.1:1"}`, 400},
		{"ttl negative", "PUT", "/v1/services/web", `{"address":"127.0.0.1:1","ttl":"-5s"}`, 400},
		{"ttl zero", "PUT", "/v1/services/web", `{"address":"127.0.0.1:1","ttl":"0s"}`, 400},
		{"ttl over an hour", "PUT", "/v1/services/web", `{"address":"127.0.0.1:1","ttl":"61m"}`, 400},
		{"ttl not a duration", "PUT", "/v1/services/web", `{"address":"127.0.0.1:1","ttl":"soon"}`, 400},
		{"ttl a number", "PUT", "/v1/services/web", `{"address":"127.0.0.1:1","ttl":15}`, 400},
		{"body over 64 KiB", "PUT", "/v1/services/web", `{"address":"127.0.0.1:1","ttl":"15s","x":"` + strings.Repeat("x", 70<<10) + `"}`, 413},
		{"unknown route", "GET", "/v2/services/web", "", 404},
		{"unknown route under v1", "GET", "/v1/nothing", "", 404},
		{"wrong method", "POST", "/v1/services/web", `{}`, 405},
		{"wrong method on regions", "DELETE", "/v1/regions", "", 405},
		{"bad scope", "GET", "/v1/services/web?scope=planet", "", 400},
		{"deregister without address", "DELETE", "/v1/services/web", "", 400},
		{"deregister bad address", "DELETE", "/v1/services/web?address=nope", "", 400},
		{"deregister unknown", "DELETE", "/v1/services/web?address=127.0.0.1:9", "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, tc.method, base+tc.path, tc.body)
			if code != tc.code {
				t.Errorf("%s %s = %d %s, want %d", tc.method, tc.path, code, body, tc.code)
			}
			var e api.Error
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
				t.Errorf("error body %q is not {\"error\": ...}", body)
			}
			list := s.ListLocal("web")
			if s.Registry().Len() != 1 || len(list) != 1 || list[0].Address != "127.0.0.1:8080" {
				t.Errorf("registry changed: %+v", list)
			}
		})
	}
}

// TestAPIRegionsSince: every region entry says since when it is in its
// state; the local region since this instance started.
func TestAPIRegionsSince(t *testing.T) {
	before := time.Now()
	s := startServer(t, Config{})
	after := time.Now()
	code, body := do(t, "GET", "http://"+s.Addr()+"/v1/regions", "")
	var regions []api.Region
	if err := json.Unmarshal([]byte(body), &regions); err != nil || code != 200 {
		t.Fatalf("GET /v1/regions = %d %s (%v)", code, body, err)
	}
	if len(regions) != 1 || regions[0].Name != "sfo" || !regions[0].Local || regions[0].State != "alive" {
		t.Fatalf("GET /v1/regions = %s", body)
	}
	if since := regions[0].Since; since.Before(before) || since.After(after) {
		t.Fatalf("local region since %v, want between %v and %v (the server's start)", since, before, after)
	}
}

func TestMetricsAndHealth(t *testing.T) {
	s := startServer(t, Config{})
	do(t, "PUT", "http://"+s.Addr()+"/v1/services/web", `{"address":"127.0.0.1:8080","ttl":"15s"}`)
	do(t, "GET", "http://"+s.Addr()+"/v1/nothing", "")
	code, body := do(t, "GET", "http://"+s.Addr()+"/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`planet_discovery_entries{region="sfo",scope="local"} 1`,
		`planet_discovery_gossip_members{state="alive"} 1`,
		`planet_discovery_http_requests_total{route="/v1/services/{name}",code="200"} 1`,
		`planet_discovery_http_requests_total{route="other",code="404"} 1`,
		`# TYPE planet_discovery_propagation_delay_seconds histogram`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	code, body = do(t, "GET", "http://"+s.Addr()+"/health", "")
	if code != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Errorf("/health = %d %s", code, body)
	}
}
