package resp

import "planet/internal/metrics"

// RegisterCommandCounter adds to reg the counter name (for example
// "storage_commands_total"): the Mux's commands by command and result, ok
// or error (failed or rejected), unknown commands as command "unknown".
func (m *Mux) RegisterCommandCounter(reg *metrics.Registry, name string) {
	reg.NewCounterFunc(name, "RESP commands by command and result (ok or error).",
		[]string{"command", "result"}, func() []metrics.Sample {
			out := []metrics.Sample{{LabelValues: []string{"unknown", "error"}, Value: float64(m.UnknownCommands())}}
			for cmd, c := range m.Stats() {
				out = append(out,
					metrics.Sample{LabelValues: []string{cmd, "ok"}, Value: float64(c.OK)},
					metrics.Sample{LabelValues: []string{cmd, "error"}, Value: float64(c.Failed + c.Rejected)})
			}
			return out
		})
}
