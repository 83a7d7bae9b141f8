package peer

import (
	"bytes"
	"context"
	"fmt"
	"runtime"

	"github.com/redis/go-redis/v9"
)

// request is one queued command. The caller that queues it waits on done,
// which has room for the one result a worker sends.
type request struct {
	args   [][]byte
	argBuf [4][]byte // holds args of Go and GoMerged, when they fit
	done   chan result
	cb     func(Reply, error) // set by Go: called instead of sending on done
	merge  bool               // set by GoMerged
}

// deliver hands r its result: to the callback of Go, or to the caller of Do.
func (c *Client) deliver(r *request, res result) {
	if r.cb == nil {
		r.done <- res
		return
	}
	cb := r.cb
	r.cb, r.merge = nil, false
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
	boxes   []rawArg // what args points to
	args    []any
	cmds    []*redis.RawCmd
	groups  []int // per cmd: how many requests of batch it carries
	merged  []bool
	results []result
}

func (p *pipeline) reset() {
	clear(p.batch)
	clear(p.args)
	clear(p.boxes)
	clear(p.cmds)
	clear(p.results)
	p.batch, p.boxes, p.args, p.cmds, p.results = p.batch[:0], p.boxes[:0], p.args[:0], p.cmds[:0], p.results[:0]
	p.groups, p.merged = p.groups[:0], p.merged[:0]
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
// request. Consecutive GoMerged requests with the same command name go as
// one command. It returns the first transport error, or nil.
func (p *pipeline) exec(ctx context.Context, g *generation) error {
	if p.gen != g {
		p.gen, p.pipe = g, g.rdb.Pipeline()
	}
	n := 0
	for _, r := range p.batch {
		n += len(r.args)
	}
	if cap(p.boxes) < n {
		p.boxes = make([]rawArg, 0, n+n/4)
	}
	box := func(b []byte) any {
		p.boxes = append(p.boxes, rawArg{b})
		return &p.boxes[len(p.boxes)-1]
	}
	for i := 0; i < len(p.batch); {
		r := p.batch[i]
		j := i + 1
		for r.merge && j < len(p.batch) && p.batch[j].merge && bytes.Equal(p.batch[j].args[0], r.args[0]) {
			j++
		}
		start := len(p.args)
		p.args = append(p.args, box(r.args[0]))
		for _, q := range p.batch[i:j] {
			for _, a := range q.args[1:] {
				p.args = append(p.args, box(a))
			}
		}
		cmd := redis.NewRawCmd(ctx, p.args[start:len(p.args):len(p.args)]...)
		_ = p.pipe.Process(ctx, cmd) // only queues; errors are per command
		p.cmds = append(p.cmds, cmd)
		p.groups = append(p.groups, j-i)
		p.merged = append(p.merged, r.merge)
		i = j
	}
	_, _ = p.pipe.Exec(ctx)

	var failure error
	for i, cmd := range p.cmds {
		raw, err := cmd.Result()
		if err != nil && failure == nil {
			failure = err
		}
		if !p.merged[i] {
			p.results = append(p.results, toResult(raw, err))
			continue
		}
		p.results = appendSplit(p.results, raw, err, p.groups[i])
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

// appendSplit appends the results of the n items of one merged command:
// the elements of its array reply, or its error for every item.
func appendSplit(results []result, raw []byte, transportErr error, n int) []result {
	var whole result
	switch {
	case transportErr != nil || len(raw) > 0 && raw[0] == '-':
		whole = toResult(raw, transportErr)
	default:
		if items := splitArray(raw, n); items != nil {
			return append(results, items...)
		}
		whole.err = unavailable(fmt.Errorf("%w: want an array of %d replies to a merged command", errProtocol, n))
	}
	for range n {
		results = append(results, whole)
	}
	return results
}

// splitArray decodes raw, an array of n replies, into a result per element
// (an error element as *ReplyError). It returns nil if raw is not that.
func splitArray(raw []byte, n int) []result {
	line, b, err := readLine(raw)
	if err != nil || line[0] != '*' {
		return nil
	}
	if m, err := parseLen(line[1:]); err != nil || m != n {
		return nil
	}
	items := make([]result, n)
	for i := range items {
		var el decoded
		if el, b, err = decode(b); err != nil {
			return nil
		}
		items[i] = result{reply: el.Reply}
		if el.err != nil {
			items[i] = result{err: el.err}
		}
	}
	if len(b) != 0 {
		return nil
	}
	return items
}

// rawArg is a command argument for go-redis, which writes an
// encoding.BinaryMarshaler as a bulk string. A pointer to one goes into an
// interface without the allocation that boxing a []byte costs.
type rawArg struct{ b []byte }

func (a *rawArg) MarshalBinary() ([]byte, error) { return a.b, nil }
