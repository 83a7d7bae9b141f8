package peer

import (
	"context"
	"runtime"

	"github.com/redis/go-redis/v9"
)

// request is one queued command. The caller that queues it waits on done,
// which has room for the one result a worker sends.
type request struct {
	args [][]byte
	done chan result
	cb   func(Reply, error) // set by Go: called instead of sending on done
}

// deliver hands r its result: to the callback of Go, or to the caller of Do.
func (c *Client) deliver(r *request, res result) {
	if r.cb == nil {
		r.done <- res
		return
	}
	cb := r.cb
	r.cb = nil
	c.putRequest(r)
	cb(res.reply, res.err)
}

type result struct {
	reply Reply
	err   error
}

// work is one worker: it takes a command from the queue, adds whatever
// else is already queued (up to MaxBatch in all), and runs them as one
// pipeline, until Close.
func (c *Client) work() {
	defer c.workers.Done()
	p := pipeline{batch: make([]*request, 0, c.cfg.MaxBatch)}
	for {
		select {
		case <-c.closing:
			return
		case r := <-c.queue:
			p.batch = append(p.batch, r)
		}
		// Let the goroutines that are about to send a command do so:
		// under load the pipeline then carries many commands for one
		// write and one read, instead of one each.
		runtime.Gosched()
	drain:
		for len(p.batch) < c.cfg.MaxBatch {
			select {
			case r := <-c.queue:
				p.batch = append(p.batch, r)
			default:
				break drain
			}
		}
		c.run(&p)
		p.reset()
	}
}

// pipeline is a worker's batch and what it reuses from one batch to the
// next.
type pipeline struct {
	gen     *generation     // that pipe belongs to
	pipe    redis.Pipeliner // empty between batches
	batch   []*request
	args    []any
	cmds    []*redis.RawCmd
	results []result
}

func (p *pipeline) reset() {
	clear(p.batch)
	clear(p.args)
	clear(p.cmds)
	clear(p.results)
	p.batch, p.args, p.cmds, p.results = p.batch[:0], p.args[:0], p.cmds[:0], p.results[:0]
}

// run sends p's batch to the peer as one pipeline and answers every
// request in it.
func (c *Client) run(p *pipeline) {
	g, err := c.acquire()
	if err != nil {
		for _, r := range p.batch {
			c.deliver(r, result{err: err})
		}
		return
	}
	failure := p.exec(c.ctx, g)
	c.pipelines.Add(1)
	c.commands.Add(int64(len(p.batch)))
	// Open the backoff before answering, so that a caller retrying at once
	// already sees it.
	c.release(g, failure)
	for i, r := range p.batch {
		c.deliver(r, p.results[i])
	}
}

// exec sends the batch on g as one pipeline and sets one result per
// request. It returns the first transport error, or nil.
func (p *pipeline) exec(ctx context.Context, g *generation) error {
	if p.gen != g {
		p.gen, p.pipe = g, g.rdb.Pipeline()
	}
	for _, r := range p.batch {
		start := len(p.args)
		for _, a := range r.args {
			p.args = append(p.args, a) // go-redis writes []byte as a bulk string
		}
		cmd := redis.NewRawCmd(ctx, p.args[start:len(p.args):len(p.args)]...)
		_ = p.pipe.Process(ctx, cmd) // only queues; errors are per command
		p.cmds = append(p.cmds, cmd)
	}
	_, _ = p.pipe.Exec(ctx)

	var failure error
	for _, cmd := range p.cmds {
		raw, err := cmd.Result()
		if err != nil && failure == nil {
			failure = err
		}
		p.results = append(p.results, toResult(raw, err))
	}
	return failure
}

// toResult turns what go-redis read for one command into its result.
func toResult(raw []byte, transportErr error) result {
	if transportErr != nil {
		return result{err: unavailable(transportErr)}
	}
	reply, err := parseReply(raw)
	if _, isReply := err.(*ReplyError); err != nil && !isReply {
		err = unavailable(err) // garbled reply: this command only
	}
	return result{reply: reply, err: err}
}
