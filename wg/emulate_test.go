package wg

import (
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.zx2c4.com/wireguard/conn"
)

func TestParseEmulateRTT(t *testing.T) {
	tbl := testTable(t)
	for _, tc := range []struct {
		in   string
		want map[string]time.Duration
		ok   bool
	}{
		{"", nil, true},
		{"nyc=74ms", map[string]time.Duration{"nyc": 74 * time.Millisecond}, true},
		{"nyc=74ms, ams=165ms", map[string]time.Duration{"nyc": 74 * time.Millisecond, "ams": 165 * time.Millisecond}, true},
		{"lax=74ms", nil, false},
		{"sfo=74ms", nil, false},
		{"nyc=74ms,nyc=75ms", nil, false},
		{"nyc", nil, false},
		{"nyc=", nil, false},
		{"=74ms", nil, false},
		{"nyc=74", nil, false},
		{"nyc=0s", nil, false},
		{"nyc=-5ms", nil, false},
		{"nyc=11s", nil, false},
		{"nyc=74ms,", nil, false},
		{"NYC=74ms", nil, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseEmulateRTT(tc.in, tbl, "sfo")
			if (err == nil) != tc.ok || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseEmulateRTT(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

// recordingBind is a conn.Bind that records when each packet was sent.
type recordingBind struct {
	conn.Bind
	mu   sync.Mutex
	sent []sentPacket
}

type sentPacket struct {
	at   time.Time
	dst  netip.AddrPort
	data string
}

func (b *recordingBind) Open(uint16) ([]conn.ReceiveFunc, uint16, error) { return nil, 1, nil }
func (b *recordingBind) Close() error                                    { return nil }

func (b *recordingBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, buf := range bufs {
		b.sent = append(b.sent, sentPacket{time.Now(), endpointAddr(ep), string(buf)})
	}
	return nil
}

func (b *recordingBind) packets() []sentPacket {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]sentPacket(nil), b.sent...)
}

func TestDelayBind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := &recordingBind{}
		b := newDelayBind(inner)
		if _, _, err := b.Open(0); err != nil {
			t.Fatal(err)
		}
		nyc, ams, lax := mustAddrPort("198.18.0.2:51820"), mustAddrPort("198.18.0.3:51820"), mustAddrPort("198.18.0.4:51820")
		b.setDelays(map[netip.AddrPort]time.Duration{nyc: 37 * time.Millisecond, ams: 82 * time.Millisecond})
		start := time.Now()
		ep := func(a netip.AddrPort) conn.Endpoint { return &conn.StdNetEndpoint{AddrPort: a} }
		buf := []byte("a1")
		b.Send([][]byte{buf}, ep(ams))
		copy(buf, "xx") // the device reuses its buffers at once
		b.Send([][]byte{[]byte("n1"), []byte("n2")}, ep(nyc))
		b.Send([][]byte{[]byte("l1")}, ep(lax))
		time.Sleep(time.Millisecond) // fake time: ordering only
		b.Send([][]byte{[]byte("n3")}, ep(nyc))
		time.Sleep(time.Second)
		synctest.Wait()

		want := []sentPacket{
			{start, lax, "l1"},
			{start.Add(37 * time.Millisecond), nyc, "n1"},
			{start.Add(37 * time.Millisecond), nyc, "n2"},
			{start.Add(38 * time.Millisecond), nyc, "n3"},
			{start.Add(82 * time.Millisecond), ams, "a1"},
		}
		if got := inner.packets(); !reflect.DeepEqual(got, want) {
			t.Errorf("sent\n got %v\nwant %v", got, want)
		}

		// Close drops what is queued and stops the queues' goroutines.
		b.Send([][]byte{[]byte("n4")}, ep(nyc))
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Send([][]byte{[]byte("n5")}, ep(nyc)); err == nil {
			t.Error("Send after Close: no error")
		}
		time.Sleep(time.Second)
		if got := len(inner.packets()); got != len(want) {
			t.Errorf("%d packets sent after Close", got-len(want))
		}
	})
}
