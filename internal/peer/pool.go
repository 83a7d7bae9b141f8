package peer

import (
	"slices"
	"sync"
)

// Pool keeps one Client per peer address, for a peer set that changes
// (from service discovery). It is safe for concurrent use.
type Pool struct {
	cfg Config

	mu      sync.Mutex
	closed  bool
	clients map[string]*Client
}

// NewPool returns an empty pool whose clients use cfg.
func NewPool(cfg Config) *Pool {
	return &Pool{cfg: cfg, clients: make(map[string]*Client)}
}

// Get returns the client for addr, creating it on first use. After Close,
// it returns a closed client, whose Do fails with ErrUnavailable.
func (p *Pool) Get(addr string) *Client {
	p.mu.Lock()
	c, ok := p.clients[addr]
	if !ok && !p.closed {
		c = New(addr, p.cfg)
		p.clients[addr] = c
	}
	p.mu.Unlock()
	if c == nil {
		c = New(addr, p.cfg)
		c.Close()
	}
	return c
}

// Retain closes and drops the clients for addresses not in addrs. Callers
// still holding one of them get ErrUnavailable from it; Get makes a new
// one.
func (p *Pool) Retain(addrs []string) {
	p.mu.Lock()
	var drop []*Client
	for addr, c := range p.clients {
		if !slices.Contains(addrs, addr) {
			drop = append(drop, c)
			delete(p.clients, addr)
		}
	}
	p.mu.Unlock()
	closeAll(drop)
}

// Close closes every client in the pool. It is idempotent and returns nil.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	drop := make([]*Client, 0, len(p.clients))
	for addr, c := range p.clients {
		drop = append(drop, c)
		delete(p.clients, addr)
	}
	p.mu.Unlock()
	closeAll(drop)
	return nil
}

// closeAll closes clients in parallel: each Close waits for its pipelines
// in flight to end.
func closeAll(clients []*Client) {
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() { c.Close() })
	}
	wg.Wait()
}
