package metrics

import (
	"bytes"
	"strings"
	"testing"
)

func TestExposition(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec("req_total", "Requests.", "route", "code")
	c.Inc("/v1", "200")
	c.Add(2, "/v1", "200")
	c.Inc("/x\"y", "404")
	c.Add(-1, "/v1", "200") // ignored: counters only go up
	g := r.NewGaugeVec("entries", "Entries.", "region")
	g.Set(7, "sfo")
	r.NewGaugeFunc("members", "Members.", []string{"state"}, func() []Sample {
		return []Sample{{[]string{"dead"}, 0}, {[]string{"alive"}, 3}}
	})
	h := r.NewHistogram("delay_seconds", "Delay.", []float64{0.1, 1})
	h.Observe(0.05)
	h.Observe(0.5)
	h.Observe(5)

	var b bytes.Buffer
	r.Write(&b)
	out := b.String()
	for _, want := range []string{
		"# TYPE req_total counter\n",
		`req_total{route="/v1",code="200"} 3` + "\n",
		`req_total{route="/x\"y",code="404"} 1` + "\n",
		`entries{region="sfo"} 7` + "\n",
		`members{state="alive"} 3` + "\nmembers{state=\"dead\"} 0\n",
		`delay_seconds_bucket{le="0.1"} 1` + "\n",
		`delay_seconds_bucket{le="1"} 2` + "\n",
		`delay_seconds_bucket{le="+Inf"} 3` + "\n",
		"delay_seconds_sum 5.55\ndelay_seconds_count 3\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got := c.Value("/v1", "200"); got != 3 {
		t.Errorf("counter value = %v, want 3", got)
	}
	g.Reset()
	if got := g.Value("sfo"); got != 0 {
		t.Errorf("gauge after reset = %v, want 0", got)
	}
}

func TestDuplicatePanics(t *testing.T) {
	r := NewRegistry()
	r.NewCounterVec("a_total", "A.")
	defer func() {
		if recover() == nil {
			t.Fatal("registering a duplicate name did not panic")
		}
	}()
	r.NewGaugeVec("a_total", "A again.")
}
