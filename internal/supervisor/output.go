package supervisor

import (
	"bytes"
	"io"
	"sync"
)

// maxLineBytes is the longest line written in one piece; longer lines are
// split into several prefixed lines rather than buffered without bound.
const maxLineBytes = 64 << 10

// output serialises prefixed lines from every child onto one writer, so
// lines from different children never interleave.
type output struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte // reused for prefix+line+"\n"
}

func newOutput(w io.Writer) *output { return &output{w: w} }

// writeLine writes prefix, line and a newline in a single Write. Errors are
// ignored: a broken terminal must not block or kill the children.
func (o *output) writeLine(prefix string, line []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf[:0], prefix...)
	o.buf = append(o.buf, line...)
	o.buf = append(o.buf, '\n')
	_, _ = o.w.Write(o.buf)
}

// lineWriter is the io.Writer given to exec.Cmd for one stream of one child.
// It splits what it is given into lines and writes each with its prefix.
// exec.Cmd calls Write from one goroutine, and Flush is called after
// exec.Cmd.Wait, so it needs no lock.
type lineWriter struct {
	out     *output
	prefix  string
	max     int    // longest line written whole
	pending []byte // start of a line not yet terminated; at most max bytes
}

func newLineWriter(out *output, name string) *lineWriter {
	return &lineWriter{out: out, prefix: name + " | ", max: maxLineBytes}
}

// Write never fails, so the child is never blocked by a slow or broken Output
// beyond the time the write takes.
func (lw *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		lw.pending = append(lw.pending, p[:i]...)
		lw.pending = bytes.TrimSuffix(lw.pending, []byte("\r"))
		lw.spill()
		lw.emit(lw.pending)
		p = p[i+1:]
	}
	lw.pending = append(lw.pending, p...)
	lw.spill()
	return n, nil
}

// Flush writes a final line that had no newline, if any.
func (lw *lineWriter) Flush() {
	if len(lw.pending) > 0 {
		lw.emit(lw.pending)
	}
}

// spill writes max-byte pieces of pending until at most max bytes remain.
func (lw *lineWriter) spill() {
	for len(lw.pending) > lw.max {
		lw.out.writeLine(lw.prefix, lw.pending[:lw.max])
		lw.pending = append(lw.pending[:0], lw.pending[lw.max:]...)
	}
}

func (lw *lineWriter) emit(line []byte) {
	lw.out.writeLine(lw.prefix, line)
	lw.pending = lw.pending[:0]
}
