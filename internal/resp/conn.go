package resp

import (
	"bufio"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Buffer sizes of a connection.
const (
	readBufferSize  = 16 << 10
	writeBufferSize = 16 << 10
)

// Conn is one client connection. The Conn passed to Exec is the same for
// every command of a connection.
type Conn struct {
	srv        *Server
	nc         net.Conn
	id         uint64    // CLIENT ID: 1, 2, ... in the order of accept
	created    time.Time // accepted at
	closeAfter atomic.Bool
	reading    atomic.Bool // the reader waits for input

	// What a Mux records of the commands it runs, for CLIENT LIST.
	lastCmd   atomic.Pointer[string] // full name of the latest command
	lastCmdAt atomic.Int64           // when it started, in ns after created

	attrMu  sync.Mutex
	name    string // guarded by attrMu; CLIENT SETNAME
	libName string // guarded by attrMu; CLIENT SETINFO LIB-NAME
	libVer  string // guarded by attrMu; CLIENT SETINFO LIB-VER

	// What a Mux records of the connection's authentication (see auth.go).
	auth atomic.Uint32

	value atomic.Pointer[any] // the service's state of the connection (Value)

	// Owned by the reader goroutine.
	r             *bufio.Reader
	parser        Parser
	writerStarted bool
	deadlineSet   bool // a read deadline is set (IdleTimeout)
	idleClosed    bool // the connection was closed for IdleTimeout

	// w is written by the reader while p is empty and by the writer
	// goroutine otherwise (see pipeline).
	w *bufio.Writer
	p pipeline
}

// RemoteAddr returns the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Value returns what the service last stored with SetValue; nil if
// nothing (or c is nil).
func (c *Conn) Value() any {
	if c == nil {
		return nil
	}
	if p := c.value.Load(); p != nil {
		return *p
	}
	return nil
}

// SetValue stores v as the service's state of the connection, such as
// settings that apply to its later commands.
func (c *Conn) SetValue(v any) { c.value.Store(&v) }

// ID returns the connection's id, unique within its Server (as Redis's
// CLIENT ID): 1 for the first connection accepted, then 2, ...
func (c *Conn) ID() uint64 { return c.id }

// Name returns the name the client gave the connection with CLIENT
// SETNAME (or HELLO ... SETNAME); "" if none.
func (c *Conn) Name() string {
	c.attrMu.Lock()
	defer c.attrMu.Unlock()
	return c.name
}

// CloseAfterReply closes the connection once the reply of the calling
// command is written (for QUIT). The connection reads no further command;
// commands it already read but had not finished when the call was made
// (only possible for a Read or Write command, which run concurrently) are
// still answered before the close.
func (c *Conn) CloseAfterReply() { c.closeAfter.Store(true) }

func newConn(s *Server, nc net.Conn, id uint64) *Conn {
	c := &Conn{srv: s, nc: nc, id: id, created: time.Now()}
	c.r = bufio.NewReaderSize(flushingReader{c}, readBufferSize)
	c.parser.reset(c.r, s.cfg)
	c.w = bufio.NewWriterSize(nc, writeBufferSize)
	c.p.init()
	return c
}

// serve runs the connection's reader: it parses and dispatches commands
// until the client leaves, a protocol error or CloseAfterReply, then waits
// for every reply to be written and closes the connection.
func (c *Conn) serve() {
	for !c.closeAfter.Load() {
		args, err := c.parser.Next()
		if err != nil {
			c.readFailed(err)
			break
		}
		c.dispatch(args)
	}
	c.p.close()
	c.w.Flush()
	c.nc.Close()
	c.srv.forget(c)
}

// readFailed answers a protocol error; other errors mean the client is gone
// (or half-closed, or the server is shutting down).
func (c *Conn) readFailed(err error) {
	var perr *ProtocolError
	if !errors.As(err, &perr) {
		if c.idleClosed {
			c.srv.log.Debug("closing idle connection", "remote", c.nc.RemoteAddr(), "timeout", c.srv.IdleTimeout())
			return
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !c.closeAfter.Load() {
			c.srv.log.Debug("connection read failed", "remote", c.nc.RemoteAddr(), "err", err)
		}
		return
	}
	c.srv.log.Debug("protocol error", "remote", c.nc.RemoteAddr(), "err", perr.Msg)
	c.reply(AppendError(nil, "ERR "+perr.Error()))
}

// dispatch runs one command according to its class.
func (c *Conn) dispatch(args [][]byte) {
	cls := c.srv.handler.Class(args)
	if cls != Read && cls != Write {
		cls = Serial
	}
	idle := c.p.empty() && c.r.Buffered() == 0
	if ah, ok := c.srv.handler.(AsyncHandler); ok && cls != Serial && !idle && ah.Async(args) {
		// Pipelined: start it now beside the others. (Alone, it is
		// cheaper to run it here and answer directly, below.)
		c.dispatchAsync(ah, cls, args)
		return
	}
	if c.p.empty() && (cls == Serial || c.r.Buffered() == 0) {
		// Nothing in flight and, for Read/Write, nothing pipelined behind
		// it that could run concurrently: run here, answer directly.
		c.w.Write(c.exec(args))
		return
	}
	if cls == Serial {
		c.p.waitIdle()
		c.reply(c.exec(args))
		return
	}
	if c.p.empty() && c.w.Buffered() > 0 {
		// Hand the writer over flushed: the command may block for long.
		c.w.Flush()
	}
	c.startWriter()
	if c.p.enqueue(cls, args) {
		c.srv.wg.Go(c.runCommands)
	}
}

// dispatchAsync starts a command of an AsyncHandler in a slot of its own;
// the writer writes its reply once the handler calls back.
func (c *Conn) dispatchAsync(ah AsyncHandler, cls Class, args [][]byte) {
	if c.p.empty() && c.w.Buffered() > 0 {
		c.w.Flush() // hand the writer over flushed
	}
	c.startWriter()
	seq := c.p.startAsync(cls)
	var once atomic.Bool
	ah.ExecAsync(c.srv.ctx, c, args, func(reply []byte) {
		if once.CompareAndSwap(false, true) {
			c.p.completeAsync(seq, reply)
		}
	})
}

// runCommands is a worker goroutine: it runs waiting Read and Write
// commands until none is left (see pipeline).
func (c *Conn) runCommands() {
	seq, args, ok, spawn := c.p.start()
	for ok {
		if spawn {
			c.srv.wg.Go(c.runCommands)
		}
		reply := c.exec(args)
		if c.closeAfter.Load() {
			c.nc.SetReadDeadline(time.Now()) // wake the reader
		}
		seq, args, ok, spawn = c.p.finish(seq, reply)
	}
}

func (c *Conn) exec(args [][]byte) []byte { return c.srv.handler.Exec(c.srv.ctx, c, args) }

// reply writes a reply in order after the queued ones.
func (c *Conn) reply(b []byte) {
	if !c.p.appendDone(b) {
		c.w.Write(b)
	}
}

func (c *Conn) startWriter() {
	if !c.writerStarted {
		c.writerStarted = true
		c.srv.wg.Go(c.writeReplies)
	}
}

// writeReplies is the writer goroutine: it writes queued replies in order
// and flushes when the next one is not ready. Write errors are sticky in
// c.w, so the replies of a departed client are discarded.
func (c *Conn) writeReplies() {
	var batch [][]byte
	for {
		var ok bool
		if batch, ok = c.p.take(batch[:0]); !ok {
			return
		}
		for _, b := range batch {
			c.w.Write(b)
		}
		clear(batch)
		if c.p.advanceIfReady(len(batch)) {
			continue
		}
		if !c.reading.Load() || c.p.busy() {
			// More replies are likely moments away (the reader is still
			// dispatching a pipeline, or commands run): let them come,
			// so that one write carries them all.
			runtime.Gosched()
			if c.p.advanceIfReady(len(batch)) {
				continue
			}
		}
		c.w.Flush()
		c.p.advance(len(batch))
	}
}

// flushingReader reads from the connection for the reader goroutine. Before
// reading, which may block, it flushes the replies the reader wrote.
type flushingReader struct{ c *Conn }

func (fr flushingReader) Read(p []byte) (int, error) {
	c := fr.c
	if c.p.empty() && c.w.Buffered() > 0 {
		c.w.Flush()
	}
	c.reading.Store(true)
	n, err := c.read(p)
	c.reading.Store(false)
	return n, err
}
