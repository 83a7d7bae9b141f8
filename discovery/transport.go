package discovery

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// streamMagic opens every gossip stream that this transport dials. It lets
// gossip streams share one TCP port with the HTTP API: an HTTP request never
// starts with a zero byte.
var streamMagic = []byte("\x00planet-gossip/1\n")

// classifyTimeout bounds how long a new TCP connection may take to show its
// first bytes before it is dropped.
const classifyTimeout = 10 * time.Second

// transport is a memberlist.Transport on the discovery port: gossip packets
// on UDP, gossip streams on the TCP listeners that also serve HTTP (the
// portMux hands them over).
type transport struct {
	udp       *net.UDPConn
	advertise net.IP
	port      int
	log       *slog.Logger

	packetCh chan *memberlist.Packet
	streamCh chan net.Conn

	done     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

var _ memberlist.Transport = (*transport)(nil)

func newTransport(udp *net.UDPConn, advertise net.IP, port int, log *slog.Logger) *transport {
	t := &transport{
		udp:       udp,
		advertise: advertise,
		port:      port,
		log:       log,
		packetCh:  make(chan *memberlist.Packet),
		streamCh:  make(chan net.Conn),
		done:      make(chan struct{}),
	}
	t.wg.Add(1)
	go t.readPackets()
	return t
}

func (t *transport) readPackets() {
	defer t.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := t.udp.ReadFrom(buf)
		now := time.Now()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			t.log.Warn("gossip packet read failed", "err", err)
			continue
		}
		if n == 0 {
			continue
		}
		p := &memberlist.Packet{Buf: bytes.Clone(buf[:n]), From: from, Timestamp: now}
		select {
		case t.packetCh <- p:
		case <-t.done:
			return
		}
	}
}

// FinalAdvertiseAddr returns the address other regions reach us at: our
// WireGuard IP and the discovery port.
func (t *transport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if ip != "" {
		parsed := net.ParseIP(ip)
		if parsed == nil {
			return nil, 0, fmt.Errorf("discovery: bad advertise address %q", ip)
		}
		return parsed, port, nil
	}
	return t.advertise, t.port, nil
}

// WriteTo sends one gossip packet. After Shutdown packets are dropped
// quietly: memberlist's last gossip ticks race with its shutdown.
func (t *transport) WriteTo(b []byte, addr string) (time.Time, error) {
	select {
	case <-t.done:
		return time.Now(), nil
	default:
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return time.Time{}, err
	}
	_, err = t.udp.WriteTo(b, ua)
	return time.Now(), err
}

func (t *transport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// DialTimeout opens a gossip stream: a TCP connection that starts with
// streamMagic.
func (t *transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := c.Write(streamMagic); err != nil {
		c.Close()
		return nil, err
	}
	c.SetWriteDeadline(time.Time{})
	return c, nil
}

func (t *transport) StreamCh() <-chan net.Conn { return t.streamCh }

// deliverStream hands an accepted gossip stream to memberlist.
func (t *transport) deliverStream(c net.Conn) {
	select {
	case t.streamCh <- c:
	case <-t.done:
		c.Close()
	}
}

// Shutdown stops the packet reader; memberlist calls it on Shutdown.
func (t *transport) Shutdown() error {
	t.stopOnce.Do(func() {
		close(t.done)
		t.udp.Close()
	})
	t.wg.Wait()
	return nil
}

// portMux splits the connections of one TCP listener into gossip streams
// (which start with streamMagic) and HTTP connections.
type portMux struct {
	ln      net.Listener
	http    *chanListener
	streams func(net.Conn)
	limit   *connLimiter
	log     *slog.Logger
}

// serve accepts until the listener is closed.
func (m *portMux) serve() {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			m.log.Warn("accept failed", "err", err)
			time.Sleep(50 * time.Millisecond) // back off on e.g. EMFILE
			continue
		}
		if c = m.limit.admit(c); c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.classify(c)
		}()
	}
}

func (m *portMux) classify(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(classifyTimeout))
	br := bufio.NewReader(c)
	first, err := br.Peek(1)
	if err != nil {
		c.Close()
		return
	}
	if first[0] != streamMagic[0] {
		c.SetReadDeadline(time.Time{})
		m.http.deliver(&bufferedConn{Conn: c, r: br})
		return
	}
	magic := make([]byte, len(streamMagic))
	if _, err := io.ReadFull(br, magic); err != nil || !bytes.Equal(magic, streamMagic) {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	m.streams(&bufferedConn{Conn: c, r: br})
}

// bufferedConn is a net.Conn whose first bytes were already read into r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// chanListener is a net.Listener fed by portMux.
type chanListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
