package peer

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Client talks to one peer. It is safe for concurrent use; commands issued
// concurrently are sent together in pipelines over Config.Conns persistent
// connections.
type Client struct {
	addr  string
	cfg   Config
	now   func() time.Time
	queue chan *request
	reqs  sync.Pool // of *request

	ctx     context.Context // for go-redis; cancelled by Close
	cancel  context.CancelFunc
	closing chan struct{} // closed by Close

	sendMu     sync.RWMutex // held (read) by Go while it queues; Close takes it to stop Go
	sendClosed bool         // guarded by sendMu
	once       sync.Once
	workers    sync.WaitGroup

	pipelines atomic.Int64 // pipelines sent, for tests and benchmarks
	commands  atomic.Int64 // commands sent in them

	// down is set while backoff is set or the client is closed, so that Do
	// takes mu only then.
	down atomic.Bool

	mu      sync.Mutex // guards the fields below, and generation.users and .retired
	closed  bool
	backoff backoff
	cur     *generation              // nil until first use and after a failure
	live    map[*generation]struct{} // not yet closed: cur and retired ones still in use
}

// New returns a client for the peer at addr ("host:port"). It does no I/O:
// connections are dialled on first use and kept. Close the client to stop
// its goroutines.
func New(addr string, cfg Config) *Client {
	return newClient(addr, cfg, time.Now)
}

// newClient is New with the clock that times the backoff.
func newClient(addr string, cfg Config, now func() time.Time) *Client {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		addr:    addr,
		cfg:     cfg,
		now:     now,
		queue:   make(chan *request, cfg.QueueSize),
		ctx:     ctx,
		cancel:  cancel,
		closing: make(chan struct{}),
		live:    make(map[*generation]struct{}),
	}
	c.reqs.New = func() any { return &request{done: make(chan result, 1)} }
	c.workers.Add(cfg.Conns)
	for range cfg.Conns {
		go c.work()
	}
	return c
}

// Addr returns the peer's address, as given to New.
func (c *Client) Addr() string { return c.addr }

// Do sends the command args to the peer and returns its reply. An error
// reply is returned as *ReplyError. Other errors wrap ErrTimeout (ctx ended
// first) or ErrUnavailable (transport failure, backoff window, or closed
// client).
//
// Commands issued concurrently are pipelined together; commands that one
// goroutine issues one after another are sent in that order. A command
// given up on (ErrTimeout, or Close) may still be sent later, so Do's
// caller must not modify args once it has passed them, even after Do
// returns.
func (c *Client) Do(ctx context.Context, args ...[]byte) (Reply, error) {
	if len(args) == 0 {
		return Reply{}, errEmptyCommand
	}
	if err := c.admit(); err != nil {
		return Reply{}, err
	}
	if ctx.Err() != nil {
		return Reply{}, timeout(ctx)
	}
	r := c.reqs.Get().(*request)
	r.args = args
	select {
	case c.queue <- r:
	case <-ctx.Done():
		c.putRequest(r)
		return Reply{}, timeout(ctx)
	case <-c.closing:
		c.putRequest(r)
		return Reply{}, unavailable(errClosed)
	}
	// From here a worker owns r until it sends on r.done. If we stop
	// waiting, r is left to the garbage collector.
	select {
	case res := <-r.done:
		c.putRequest(r)
		return res.reply, res.err
	case <-ctx.Done():
		return Reply{}, timeout(ctx)
	case <-c.closing:
		return Reply{}, unavailable(errClosed)
	}
}

// Go queues a command like Do, without a deadline of the caller's (the
// I/O timeout bounds it), and calls done with the outcome instead of
// returning it: from the client's worker goroutine once the reply is in, or
// at once if the client is unavailable, closed, or has a full queue (the
// peer is not keeping up). Go never blocks; done must not block either. It
// saves the caller a goroutine per command when it fans out to peers.
func (c *Client) Go(done func(Reply, error), args ...[]byte) {
	c.goRequest(done, false, args)
}

// GoMerged queues one item of a batch command, like Go. The items that a
// worker takes together, one after another, with the same command name
// (args[0]) go to the peer as one command: the name, then every item's
// other arguments in order. The peer must answer it with an array of one
// reply per item, in order; each item's done gets its own element (an
// error element as *ReplyError). An error reply to the whole command goes
// to every item. Merging saves the per-command cost on both sides, which
// dominates small commands such as replicated writes and digest reads.
func (c *Client) GoMerged(done func(Reply, error), args ...[]byte) {
	c.goRequest(done, true, args)
}

func (c *Client) goRequest(done func(Reply, error), merge bool, args [][]byte) {
	if len(args) == 0 {
		done(Reply{}, errEmptyCommand)
		return
	}
	if err := c.admit(); err != nil {
		done(Reply{}, err)
		return
	}
	c.sendMu.RLock()
	defer c.sendMu.RUnlock()
	if c.sendClosed {
		done(Reply{}, unavailable(errClosed))
		return
	}
	r := c.reqs.Get().(*request)
	// Copied, so that the caller's variadic slice need not escape.
	r.args = append(r.argBuf[:0], args...)
	r.cb, r.merge = done, merge
	select {
	case c.queue <- r: // Close waits for sendMu, and workers drain the queue until then
	default:
		// The peer is not keeping up (hung, or overloaded): fail at once
		// rather than stall the caller, who fans out to several peers.
		r.cb, r.merge = nil, false
		c.putRequest(r)
		done(Reply{}, unavailable(errQueueFull))
	}
}

func (c *Client) putRequest(r *request) {
	r.args = nil
	clear(r.argBuf[:])
	c.reqs.Put(r)
}

// admit returns the error to fail a new command with, if the client is
// closed or backing off.
func (c *Client) admit() error {
	if !c.down.Load() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blockedLocked()
}

func (c *Client) blockedLocked() error {
	if c.closed {
		return unavailable(errClosed)
	}
	return c.backoff.blocked(c.now())
}

// Available reports whether Do will try the peer: false after Close and
// during the backoff window that follows a transport failure.
func (c *Client) Available() bool {
	return c.admit() == nil
}

// Close stops the client and waits for its goroutines. Pending and later
// Do calls fail with ErrUnavailable. Close is idempotent and returns nil.
func (c *Client) Close() error {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.down.Store(true)
		live := c.live
		c.live = nil
		c.cur = nil
		c.mu.Unlock()

		c.sendMu.Lock()
		c.sendClosed = true
		c.sendMu.Unlock()
		close(c.closing)
		c.cancel()
		for g := range live {
			g.rdb.Close() // breaks pipelines in flight
		}
		c.workers.Wait()
		// Requests queued by Go that no worker took: their callbacks
		// still get an answer.
		for {
			select {
			case r := <-c.queue:
				c.deliver(r, result{err: unavailable(errClosed)})
				continue
			default:
			}
			break
		}
	})
	return nil
}

// acquire returns the generation to run a pipeline on, dialling nothing:
// go-redis dials when the pipeline runs. Pair it with release.
func (c *Client) acquire() (*generation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.blockedLocked(); err != nil {
		return nil, err
	}
	if c.cur == nil {
		c.cur = newGeneration(c.addr, c.cfg)
		c.live[c.cur] = struct{}{}
	}
	c.cur.users++
	return c.cur, nil
}

// release records the outcome of a pipeline run on g: failure is its
// transport error, or nil. The first failure on the current generation
// opens the backoff window and retires the generation; the first success
// on a fresh generation clears the backoff.
func (c *Client) release(g *generation, failure error) {
	c.mu.Lock()
	g.users--
	switch {
	case g != c.cur:
		// Retired, or the client is closed: the outcome is stale.
	case failure != nil:
		c.backoff = openBackoff(c.now(), c.cfg.Backoff, failure)
		c.down.Store(true)
		c.cur = nil
		g.retired = true
	case c.backoff.isSet():
		c.backoff = backoff{}
		c.down.Store(false)
	}
	_, isLive := c.live[g]
	closeNow := isLive && g.retired && g.users == 0
	if closeNow {
		delete(c.live, g)
	}
	c.mu.Unlock()
	if closeNow {
		g.rdb.Close()
	}
}
