package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestControlAPI(t *testing.T) {
	h := startSupervisor(t, time.Second,
		sh("sfo", "discovery", scriptServe),
		sh("nyc", "discovery", scriptServe),
	)
	srv := httptest.NewServer(h.sup.Handler())
	t.Cleanup(srv.Close)
	c := &Client{Addr: srv.URL}
	ctx := context.Background()

	list, err := c.Processes(ctx)
	if err != nil {
		t.Fatalf("Processes: %v", err)
	}
	if len(list) != 2 || list[0].Name != "sfo/discovery" || list[1].Name != "nyc/discovery" || list[0].State != StateRunning {
		t.Fatalf("Processes = %+v, want sfo/discovery and nyc/discovery running", list)
	}

	// Each step depends on the state the previous ones left behind.
	steps := []struct {
		region, service, action string
		wantCode                int // 0 for success
		wantState               string
		wantRestarts            int
	}{
		{"sfo", "discovery", "kill", 0, StateExited, 0},
		{"sfo", "discovery", "kill", http.StatusConflict, "", 0},
		{"sfo", "discovery", "pause", http.StatusConflict, "", 0},
		{"sfo", "discovery", "start", 0, StateRunning, 1},
		{"sfo", "discovery", "start", http.StatusConflict, "", 0},
		{"sfo", "discovery", "pause", 0, StatePaused, 1},
		{"sfo", "discovery", "resume", 0, StateRunning, 1},
		{"sfo", "discovery", "pause", 0, StatePaused, 1},
		{"sfo", "discovery", "stop", 0, StateStopped, 1},
		{"sfo", "discovery", "stop", http.StatusConflict, "", 0},
		{"sfo", "discovery", "start", 0, StateRunning, 2},
		{"nyc", "discovery", "stop", 0, StateStopped, 0},
		{"lon", "discovery", "start", http.StatusNotFound, "", 0},
		{"sfo", "discovery", "explode", http.StatusNotFound, "", 0},
	}
	for _, step := range steps {
		st, err := c.Do(ctx, step.region, step.service, step.action)
		if step.wantCode != 0 {
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != step.wantCode || apiErr.Message == "" {
				t.Errorf("%s %s/%s: err %v, want APIError %d with a message", step.action, step.region, step.service, err, step.wantCode)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %s/%s: %v", step.action, step.region, step.service, err)
			continue
		}
		if st.State != step.wantState || st.Restarts != step.wantRestarts {
			t.Errorf("%s %s/%s: state %q restarts %d, want %q restarts %d", step.action, step.region, step.service, st.State, st.Restarts, step.wantState, step.wantRestarts)
		}
	}

	_, err = c.Do(ctx, "nyc", "discovery", "kill")
	if err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("kill of a stopped process: %v, want an error carrying the server's message", err)
	}
}

func TestControlAPIRoutes(t *testing.T) {
	sup, err := New(Config{Specs: []Spec{sh("sfo", "discovery", scriptServe)}, Output: &syncBuffer{}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sup.Handler()) // Run not called: the supervisor is inactive
	t.Cleanup(srv.Close)

	tests := []struct {
		method, path string
		wantCode     int
	}{
		{http.MethodGet, "/v1/processes", http.StatusOK},
		{http.MethodPost, "/v1/processes", http.StatusMethodNotAllowed},
		{http.MethodGet, "/v1/processes/sfo/discovery/kill", http.StatusMethodNotAllowed},
		{http.MethodPost, "/v1/processes/sfo/discovery/start", http.StatusServiceUnavailable},
		{http.MethodPost, "/v1/processes/sfo/discovery/kill", http.StatusConflict},
		{http.MethodPost, "/v1/processes/sfo/nope/kill", http.StatusNotFound},
		{http.MethodPost, "/v1/processes/sfo/discovery", http.StatusNotFound},
		{http.MethodGet, "/nope", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if tt.wantCode == http.StatusOK {
				return
			}
			var body errorBody
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Error == "" {
				t.Errorf("error body: %v, %+v; want {\"error\": ...}", err, body)
			}
		})
	}
}

func TestClientAddr(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"127.0.0.1:7070", "http://127.0.0.1:7070"},
		{"http://127.0.0.1:7070/", "http://127.0.0.1:7070"},
		{"https://dev.example", "https://dev.example"},
	}
	for _, tt := range tests {
		if got := (&Client{Addr: tt.addr}).baseURL(); got != tt.want {
			t.Errorf("baseURL(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}
