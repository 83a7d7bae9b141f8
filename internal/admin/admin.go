// Package admin serves the endpoints every Planet service exposes on its
// admin address: GET /health (JSON) and GET /metrics (Prometheus text).
package admin

import (
	"encoding/json"
	"net/http"

	"planet/internal/metrics"
)

// HealthFunc reports a service's health: a JSON-encodable status, and an
// error when the service is not healthy (served as 503).
type HealthFunc func() (status any, err error)

// Handle registers /health and /metrics on mux.
func Handle(mux *http.ServeMux, health HealthFunc, reg *metrics.Registry) {
	mux.Handle("GET /metrics", reg.Handler())
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		status, err := health()
		code := http.StatusOK
		if err != nil {
			code = http.StatusServiceUnavailable
			status = map[string]string{"status": "unhealthy", "error": err.Error()}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(status)
	})
}
