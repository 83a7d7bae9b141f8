package wg

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/conn"

	"planet/regions"
)

// MaxEmulatedRTT is the largest round-trip time --emulate-rtt accepts.
const MaxEmulatedRTT = 10 * time.Second

// delayQueueLen is how many batches of packets one destination's delay
// queue holds; a send to a full queue drops the batch, as a router's full
// queue would.
const delayQueueLen = 4096

// ParseEmulateRTT parses a WAN emulation setting of region self of t:
// comma-separated REGION=RTT pairs ("nyc=74ms,ams=165ms"), each RTT a Go
// duration above zero and at most MaxEmulatedRTT. It refuses a region
// that is not in t, self, and a region given twice. An empty string is no
// emulation (a nil map).
func ParseEmulateRTT(s string, t *regions.Table, self string) (map[string]time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string]time.Duration{}
	for _, item := range strings.Split(s, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || name == "" || value == "" {
			return nil, fmt.Errorf("%q: want REGION=RTT, as in nyc=74ms", item)
		}
		if _, ok := t.Lookup(name); !ok {
			return nil, fmt.Errorf("%q: %w", name, regions.ErrUnknownRegion)
		}
		if name == self {
			return nil, fmt.Errorf("%q: this region itself", name)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%q: given twice", name)
		}
		d, err := time.ParseDuration(value)
		if err != nil || d <= 0 || d > MaxEmulatedRTT {
			return nil, fmt.Errorf("%s=%s: want a duration above 0 and at most %v", name, value, MaxEmulatedRTT)
		}
		out[name] = d
	}
	return out, nil
}

// delayBind wraps a conn.Bind so that the packets sent to some endpoints
// are delayed, each destination by its own amount, to emulate a WAN on a
// LAN. Each delayed destination has a FIFO queue drained by a goroutine of
// its own (the delay is fixed per destination, so the queue is in due
// order and needs one timer), so a slow destination never holds up
// another, and Send never blocks.
type delayBind struct {
	conn.Bind

	mu     sync.Mutex
	delays map[netip.AddrPort]time.Duration // guarded by mu
	queues map[netip.AddrPort]*delayQueue   // guarded by mu; nil when closed
	wg     sync.WaitGroup                   // the queues' goroutines
}

var _ conn.Bind = (*delayBind)(nil)

// delayedBatch is a copy of what Send was given, and when it is due.
type delayedBatch struct {
	due  time.Time
	bufs [][]byte
	ep   conn.Endpoint
}

type delayQueue struct {
	ch   chan delayedBatch
	done chan struct{}
}

func newDelayBind(inner conn.Bind) *delayBind {
	return &delayBind{Bind: inner}
}

// setDelays replaces the delays: packets to each destination are held
// for its duration before they are sent.
func (b *delayBind) setDelays(delays map[netip.AddrPort]time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.delays = delays
}

// Open opens the wrapped bind.
func (b *delayBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	fns, actual, err := b.Bind.Open(port)
	if err == nil {
		b.mu.Lock()
		b.queues = map[netip.AddrPort]*delayQueue{}
		b.mu.Unlock()
	}
	return fns, actual, err
}

// Close drops what is queued, stops the queues and closes the wrapped bind.
func (b *delayBind) Close() error {
	b.mu.Lock()
	for _, q := range b.queues {
		close(q.done)
	}
	b.queues = nil
	b.mu.Unlock()
	b.wg.Wait()
	return b.Bind.Close()
}

// Send sends bufs to ep, at once or, for a delayed destination, later.
func (b *delayBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	dst := endpointAddr(ep)
	b.mu.Lock()
	d := b.delays[dst]
	if d <= 0 {
		b.mu.Unlock()
		return b.Bind.Send(bufs, ep)
	}
	if b.queues == nil {
		b.mu.Unlock()
		return net.ErrClosed
	}
	q := b.queues[dst]
	if q == nil {
		q = &delayQueue{ch: make(chan delayedBatch, delayQueueLen), done: make(chan struct{})}
		b.queues[dst] = q
		b.wg.Add(1)
		go b.drain(q)
	}
	b.mu.Unlock()
	batch := delayedBatch{due: time.Now().Add(d), bufs: make([][]byte, len(bufs)), ep: ep}
	for i, buf := range bufs {
		batch.bufs[i] = append([]byte(nil), buf...)
	}
	select {
	case q.ch <- batch:
	default: // full: dropped, as on a congested link
	}
	return nil
}

// drain sends q's batches when they are due, until q is closed.
func (b *delayBind) drain(q *delayQueue) {
	defer b.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		var batch delayedBatch
		select {
		case <-q.done:
			return
		case batch = <-q.ch:
		}
		timer.Reset(time.Until(batch.due))
		select {
		case <-q.done:
			return
		case <-timer.C:
		}
		b.Bind.Send(batch.bufs, batch.ep) // errors are packet loss, as for any UDP send
	}
}

// endpointAddr returns ep's destination address and port.
func endpointAddr(ep conn.Endpoint) netip.AddrPort {
	if se, ok := ep.(*conn.StdNetEndpoint); ok {
		return netip.AddrPortFrom(se.Addr().Unmap(), se.Port())
	}
	ap, _ := netip.ParseAddrPort(ep.DstToString())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
