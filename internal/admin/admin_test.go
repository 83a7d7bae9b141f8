package admin

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"planet/internal/metrics"
)

func TestHealthAndMetrics(t *testing.T) {
	reg := metrics.NewRegistry()
	reg.NewCounterVec("x_total", "X.").Inc()
	healthy := true
	mux := http.NewServeMux()
	Handle(mux, func() (any, error) {
		if !healthy {
			return nil, errors.New("disk full")
		}
		return map[string]string{"status": "ok"}, nil
	}, reg)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/health"); code != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Errorf("/health = %d %s", code, body)
	}
	healthy = false
	if code, body := get("/health"); code != 503 || !strings.Contains(body, "disk full") {
		t.Errorf("unhealthy /health = %d %s", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "x_total 1") {
		t.Errorf("/metrics = %d %s", code, body)
	}
}
