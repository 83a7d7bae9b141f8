// Package metrics is a small Prometheus text-format registry: counters and
// gauges with labels, gauges computed at scrape time, and histograms. It exists
// so that every Planet service exposes /metrics without a heavy dependency.
package metrics

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Registry holds metric families and writes them in the Prometheus text
// exposition format (version 0.0.4).
type Registry struct {
	mu       sync.Mutex
	families []family // guarded by mu, in registration order
}

type family interface {
	name() string
	write(w io.Writer)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

func (r *Registry) add(f family) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range r.families {
		if g.name() == f.name() {
			panic("metrics: duplicate metric " + f.name())
		}
	}
	r.families = append(r.families, f)
}

// Write writes every family in the text exposition format.
func (r *Registry) Write(w io.Writer) {
	r.mu.Lock()
	fams := append([]family(nil), r.families...)
	r.mu.Unlock()
	for _, f := range fams {
		f.write(w)
	}
}

// Handler serves the registry at GET /metrics.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		r.Write(w)
	})
}

// CounterVec is a counter family partitioned by label values.
type CounterVec struct{ vec }

// NewCounterVec registers a counter family. Counter names should end in _total.
func (r *Registry) NewCounterVec(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{vec{fname: name, help: help, kind: "counter", labels: labels, values: map[string]*series{}}}
	r.add(c)
	return c
}

// Add adds delta (which must not be negative) to the series with the given
// label values.
func (c *CounterVec) Add(delta float64, labelValues ...string) {
	if delta < 0 {
		return
	}
	c.add(delta, labelValues)
}

// Inc adds one to the series with the given label values.
func (c *CounterVec) Inc(labelValues ...string) { c.add(1, labelValues) }

// Value returns the current value of a series (zero if it does not exist).
func (c *CounterVec) Value(labelValues ...string) float64 { return c.get(labelValues) }

// GaugeVec is a gauge family partitioned by label values.
type GaugeVec struct{ vec }

// NewGaugeVec registers a gauge family.
func (r *Registry) NewGaugeVec(name, help string, labels ...string) *GaugeVec {
	g := &GaugeVec{vec{fname: name, help: help, kind: "gauge", labels: labels, values: map[string]*series{}}}
	r.add(g)
	return g
}

// Set sets the series with the given label values.
func (g *GaugeVec) Set(v float64, labelValues ...string) { g.set(v, labelValues) }

// Reset drops every series, so that label values that no longer exist
// disappear from the output.
func (g *GaugeVec) Reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.values = map[string]*series{}
}

// Value returns the current value of a series (zero if it does not exist).
func (g *GaugeVec) Value(labelValues ...string) float64 { return g.get(labelValues) }

// Sample is one series of a gauge computed at scrape time.
type Sample struct {
	LabelValues []string
	Value       float64
}

type gaugeFunc struct {
	fname, help string
	kind        string
	labels      []string
	collect     func() []Sample
}

// NewGaugeFunc registers a gauge family whose series are computed by collect
// at every scrape. collect must be safe for concurrent use.
func (r *Registry) NewGaugeFunc(name, help string, labels []string, collect func() []Sample) {
	r.add(&gaugeFunc{fname: name, help: help, kind: "gauge", labels: labels, collect: collect})
}

// NewCounterFunc registers a counter family read at every scrape from
// counters the caller keeps (for hot paths: an atomic add per event
// instead of a locked map lookup). collect must be safe for concurrent use.
func (r *Registry) NewCounterFunc(name, help string, labels []string, collect func() []Sample) {
	r.add(&gaugeFunc{fname: name, help: help, kind: "counter", labels: labels, collect: collect})
}

func (g *gaugeFunc) name() string { return g.fname }

func (g *gaugeFunc) write(w io.Writer) {
	writeHeader(w, g.fname, g.help, g.kind)
	samples := g.collect()
	sort.Slice(samples, func(i, j int) bool {
		return strings.Join(samples[i].LabelValues, "\xff") < strings.Join(samples[j].LabelValues, "\xff")
	})
	for _, s := range samples {
		fmt.Fprintf(w, "%s%s %s\n", g.fname, labelString(g.labels, s.LabelValues), formatFloat(s.Value))
	}
}

type series struct {
	labelValues []string
	value       float64
}

type vec struct {
	fname, help, kind string
	labels            []string

	mu     sync.Mutex
	values map[string]*series // guarded by mu, keyed by joined label values
}

func (v *vec) name() string { return v.fname }

func (v *vec) seriesLocked(labelValues []string) *series {
	if len(labelValues) != len(v.labels) {
		panic(fmt.Sprintf("metrics: %s wants %d label values, got %d", v.fname, len(v.labels), len(labelValues)))
	}
	key := strings.Join(labelValues, "\xff")
	s, ok := v.values[key]
	if !ok {
		s = &series{labelValues: append([]string(nil), labelValues...)}
		v.values[key] = s
	}
	return s
}

func (v *vec) add(delta float64, labelValues []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seriesLocked(labelValues).value += delta
}

func (v *vec) set(val float64, labelValues []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seriesLocked(labelValues).value = val
}

func (v *vec) get(labelValues []string) float64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.values[strings.Join(labelValues, "\xff")]; ok {
		return s.value
	}
	return 0
}

func (v *vec) write(w io.Writer) {
	v.mu.Lock()
	keys := make([]string, 0, len(v.values))
	for k := range v.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, 0, len(keys))
	for _, k := range keys {
		s := v.values[k]
		lines = append(lines, v.fname+labelString(v.labels, s.labelValues)+" "+formatFloat(s.value))
	}
	v.mu.Unlock()
	writeHeader(w, v.fname, v.help, v.kind)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

// Histogram counts observations into cumulative buckets.
type Histogram struct {
	fname, help string
	bounds      []float64

	mu     sync.Mutex
	counts []uint64 // guarded by mu; counts[i] observations <= bounds[i], last is +Inf
	sum    float64  // guarded by mu
	total  uint64   // guarded by mu
}

// NewHistogram registers a histogram with the given upper bucket bounds
// (ascending; +Inf is implicit).
func (r *Registry) NewHistogram(name, help string, bounds []float64) *Histogram {
	h := &Histogram{fname: name, help: help, bounds: bounds, counts: make([]uint64, len(bounds)+1)}
	r.add(h)
	return h
}

// Observe records one observation.
func (h *Histogram) Observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts[i]++
	h.sum += v
	h.total++
}

// Count returns the number of observations so far.
func (h *Histogram) Count() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total
}

func (h *Histogram) name() string { return h.fname }

func (h *Histogram) write(w io.Writer) {
	h.mu.Lock()
	counts := append([]uint64(nil), h.counts...)
	sum, total := h.sum, h.total
	h.mu.Unlock()
	writeHeader(w, h.fname, h.help, "histogram")
	var cum uint64
	for i, b := range h.bounds {
		cum += counts[i]
		fmt.Fprintf(w, "%s_bucket{le=%q} %d\n", h.fname, formatFloat(b), cum)
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n", h.fname, total)
	fmt.Fprintf(w, "%s_sum %s\n%s_count %d\n", h.fname, formatFloat(sum), h.fname, total)
}

// ExponentialBuckets returns n bounds starting at start, each factor times
// the previous one.
func ExponentialBuckets(start, factor float64, n int) []float64 {
	b := make([]float64, n)
	for i := range b {
		b[i] = start
		start *= factor
	}
	return b
}

func writeHeader(w io.Writer, name, help, kind string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, kind)
}

func labelString(names, values []string) string {
	if len(names) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteString(`="`)
		b.WriteString(escapeLabel(values[i]))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }

var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

func escapeHelp(s string) string { return helpEscaper.Replace(s) }

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
