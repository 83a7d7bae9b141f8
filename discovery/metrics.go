package discovery

import "planet/internal/metrics"

type serverMetrics struct {
	reg            *metrics.Registry
	httpRequests   *metrics.CounterVec
	gossipMessages *metrics.CounterVec
	propagation    *metrics.Histogram
	gossipRejected *metrics.CounterVec
	persistWrites  *metrics.CounterVec
	connsRejected  *metrics.CounterVec
}

func newServerMetrics(s *Server) *serverMetrics {
	reg := metrics.NewRegistry()
	m := &serverMetrics{
		reg: reg,
		httpRequests: reg.NewCounterVec("planet_discovery_http_requests_total",
			"HTTP API requests by route and status code.", "route", "code"),
		gossipMessages: reg.NewCounterVec("planet_discovery_gossip_messages_total",
			"Federation messages received, by type (invalid for undecodable) and channel.", "type", "via"),
		propagation: reg.NewHistogram("planet_discovery_propagation_delay_seconds",
			"Delay from a registration change in another region to its arrival here (wall clocks of both regions).",
			metrics.ExponentialBuckets(0.001, 2, 14)),
		gossipRejected: reg.NewCounterVec("planet_discovery_gossip_rejected_total",
			"Gossip refused for want of the mesh's key: our joins a peer refused (join), or gossip we could not decrypt (incoming).", "side"),
		persistWrites: reg.NewCounterVec("planet_discovery_persist_writes_total",
			"Writes of the registrations file, by result (ok or error).", "result"),
		connsRejected: reg.NewCounterVec("planet_discovery_connections_rejected_total",
			"Connections closed on accept because MaxConns were open."),
	}
	reg.NewGaugeFunc("planet_discovery_connections", "Connections open on the discovery port (HTTP and gossip streams).",
		nil, func() []metrics.Sample { return []metrics.Sample{{Value: float64(s.limit.open.Load())}} })
	reg.NewGaugeFunc("planet_discovery_entries", "Registered instances known here, by region and scope (local or federated).",
		[]string{"region", "scope"}, func() []metrics.Sample {
			out := []metrics.Sample{{LabelValues: []string{s.cfg.Region, "local"}, Value: float64(s.registry.Len())}}
			s.mu.Lock()
			defer s.mu.Unlock()
			for region, n := range s.fed.counts() {
				out = append(out, metrics.Sample{LabelValues: []string{region, "federated"}, Value: float64(n)})
			}
			return out
		})
	reg.NewGaugeFunc("planet_discovery_gossip_members", "Regions in the gossip cluster by state, this one included.",
		[]string{"state"}, func() []metrics.Sample {
			counts := map[string]int{"alive": 0, "suspect": 0, "dead": 0, "left": 0}
			for _, r := range s.members() {
				counts[r.State]++
			}
			var out []metrics.Sample
			for state, n := range counts {
				out = append(out, metrics.Sample{LabelValues: []string{state}, Value: float64(n)})
			}
			return out
		})
	return m
}
