package resp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// A bulk string's buffer grows ahead of the data received by at most
// firstBulkChunk bytes until that much arrived, then by bulkChunk.
const (
	firstBulkChunk = 64 << 10
	bulkChunk      = 1 << 20
)

// keepSpans is the largest scratch span list a Parser keeps between
// commands.
const keepSpans = 256

// ProtocolError is malformed input. The server answers it with
// "-ERR Protocol error: <Msg>" and closes the connection.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "Protocol error: " + e.Msg }

func protocolError(msg string) error { return &ProtocolError{Msg: msg} }

// Parser reads commands from a buffered reader.
type Parser struct {
	r         *bufio.Reader
	maxBulk   int
	maxArgs   int
	maxInline int
	spans     []span // scratch: where each argument of a command lies
	line      []byte // scratch: an inline line longer than r's buffer
}

// span locates an argument in a command's buffer.
type span struct{ off, n int }

// NewParser returns a parser reading from r with cfg's limits (only MaxBulk,
// MaxArgs and MaxInline are used; zero means the default).
func NewParser(r *bufio.Reader, cfg Config) *Parser {
	p := &Parser{}
	p.reset(r, cfg)
	return p
}

func (p *Parser) reset(r *bufio.Reader, cfg Config) {
	cfg = cfg.withDefaults()
	*p = Parser{r: r, maxBulk: cfg.MaxBulk, maxArgs: cfg.MaxArgs, maxInline: cfg.MaxInline}
}

// Next returns the next command: at least one argument, each in memory that
// belongs to the caller. Empty commands ("*0", "*-1", blank inline lines)
// are skipped. It returns io.EOF when the input ends between commands,
// io.ErrUnexpectedEOF when it ends inside one, a *ProtocolError for
// malformed input, or the reader's error. A count or length line longer than
// the reader's buffer is a protocol error ("too big mbulk count string").
// Args never number more than MaxArgs.
func (p *Parser) Next() ([][]byte, error) {
	for {
		first, err := p.r.Peek(1)
		if err != nil {
			return nil, err
		}
		var args [][]byte
		if first[0] == '*' {
			args, err = p.multibulk()
		} else {
			args, err = p.inline()
		}
		if err != nil || args != nil {
			return args, err
		}
	}
}

// multibulk parses a frame from the buffered input when it is all there,
// and streams it otherwise.
func (p *Parser) multibulk() ([][]byte, error) {
	buf, _ := p.r.Peek(p.r.Buffered())
	args, n, err := p.scanFrame(buf)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		p.r.Discard(n)
		return args, nil
	}
	return p.readFrame()
}

// scanFrame parses the multibulk frame at the start of buf. It returns the
// frame's length in bytes (0 if buf holds only part of it) and its arguments
// (nil for an empty frame), copied into one new buffer sized exactly.
func (p *Parser) scanFrame(buf []byte) ([][]byte, int, error) {
	line, ok := cutLine(buf[1:])
	if !ok {
		return nil, 0, nil
	}
	count, err := p.parseCount(line)
	if err != nil {
		return nil, 0, err
	}
	pos := 1 + len(line) + 1
	if count <= 0 {
		return nil, pos, nil
	}
	spans, total := p.spans[:0], 0
	for range count {
		if pos >= len(buf) {
			return nil, 0, nil
		}
		if buf[pos] != '$' {
			return nil, 0, errExpectedDollar(buf[pos])
		}
		line, ok := cutLine(buf[pos+1:])
		if !ok {
			return nil, 0, nil
		}
		n, err := p.parseBulkLen(line)
		if err != nil {
			return nil, 0, err
		}
		pos += 1 + len(line) + 1
		if len(buf)-pos < n+2 {
			return nil, 0, nil
		}
		if buf[pos+n] != '\r' || buf[pos+n+1] != '\n' {
			return nil, 0, errBulkCRLF()
		}
		spans = append(spans, span{pos, n})
		total += n
		pos += n + 2
	}
	if cap(spans) <= keepSpans {
		p.spans = spans
	}
	data := make([]byte, total)
	args := make([][]byte, count)
	off := 0
	for i, s := range spans {
		copy(data[off:], buf[s.off:s.off+s.n])
		args[i] = data[off : off+s.n : off+s.n]
		off += s.n
	}
	return args, pos, nil
}

// readFrame parses a multibulk frame that is not all buffered, reading its
// bulk strings into one buffer that grows as their bytes arrive.
func (p *Parser) readFrame() ([][]byte, error) {
	p.r.Discard(1) // '*'
	line, err := p.readHeader("too big mbulk count string")
	if err != nil {
		return nil, err
	}
	count, err := p.parseCount(line)
	if err != nil || count <= 0 {
		return nil, err
	}
	var data []byte
	spans := p.spans[:0]
	defer func() {
		if cap(spans) <= keepSpans {
			p.spans = spans
		}
	}()
	for i := range count {
		c, err := p.r.ReadByte()
		if err != nil {
			return nil, unexpected(err)
		}
		if c != '$' {
			return nil, errExpectedDollar(c)
		}
		line, err := p.readHeader("too big bulk count string")
		if err != nil {
			return nil, err
		}
		n, err := p.parseBulkLen(line)
		if err != nil {
			return nil, err
		}
		off := len(data)
		if data, err = p.readBulk(data, n, i == count-1); err != nil {
			return nil, err
		}
		spans = append(spans, span{off, n})
	}
	args := make([][]byte, count)
	for i, s := range spans {
		args[i] = data[s.off : s.off+s.n : s.off+s.n]
	}
	return args, nil
}

// readBulk appends n bytes of bulk data to dst and consumes the \r\n after
// them, growing dst by at most bulkChunk beyond what has arrived (last: no
// bulk string follows, so dst need not grow beyond this one).
func (p *Parser) readBulk(dst []byte, n int, last bool) ([]byte, error) {
	for need, ahead := n+2, firstBulkChunk; need > 0; ahead = bulkChunk {
		step := min(need, ahead)
		dst = grow(dst, step, need, last)
		got, err := io.ReadFull(p.r, dst[len(dst):len(dst)+step])
		dst = dst[:len(dst)+got]
		if err != nil {
			return dst, unexpected(err)
		}
		need -= step
	}
	if !bytes.HasSuffix(dst, crlf) {
		return dst, errBulkCRLF()
	}
	return dst[:len(dst)-2], nil
}

var crlf = []byte("\r\n")

// grow returns b with room for n more bytes. It grows geometrically, as
// append does, so that a frame of many bulk strings is copied a few times,
// not once per string; for the last one (final), never by more than want
// bytes (the rest of its data, which has yet to arrive).
func grow(b []byte, n, want int, final bool) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	// Doubling: a value is copied about twice in all while it arrives
	// (1.25x growth copied a 16 MiB value some 80 MiB), and the buffer is
	// never more than twice what arrived.
	size := 2 * cap(b)
	if final {
		size = min(size, len(b)+want)
	}
	size = max(size, len(b)+n)
	nb := make([]byte, len(b), size)
	copy(nb, b)
	return nb
}

// readHeader reads a count or length line, up to and excluding its \n; a
// line longer than the reader's buffer is the protocol error tooBig.
func (p *Parser) readHeader(tooBig string) ([]byte, error) {
	line, err := p.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, protocolError(tooBig)
	}
	if err != nil {
		return nil, unexpected(err)
	}
	return line[:len(line)-1], nil
}

// parseCount parses a multibulk count line ("3\r", after '*').
func (p *Parser) parseCount(line []byte) (int, error) {
	n, ok := parseLength(line)
	if !ok || n < -1 || n > int64(p.maxArgs) {
		return 0, protocolError("invalid multibulk length")
	}
	return int(n), nil
}

// parseBulkLen parses a bulk length line ("5\r", after '$').
func (p *Parser) parseBulkLen(line []byte) (int, error) {
	n, ok := parseLength(line)
	if !ok || n < 0 || n > int64(p.maxBulk) {
		return 0, protocolError("invalid bulk length")
	}
	return int(n), nil
}

// parseLength parses a decimal integer followed by \r, strictly as Redis'
// string2ll does: an optional '-', no '+', no leading zeros, no "-0".
// It rejects numbers of more than 18 digits, far beyond any limit.
func parseLength(line []byte) (int64, bool) {
	if len(line) < 2 || line[len(line)-1] != '\r' {
		return 0, false
	}
	digits := line[:len(line)-1]
	neg := digits[0] == '-'
	if neg {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 18 || digits[0] == '0' && (len(digits) > 1 || neg) {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// cutLine returns b up to (excluding) its first \n, and whether there is one.
func cutLine(b []byte) ([]byte, bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, false
	}
	return b[:i], true
}

func errExpectedDollar(got byte) error {
	return protocolError("expected '$', got '" + string([]byte{got}) + "'")
}

func errBulkCRLF() error { return protocolError("expected CRLF after bulk data") }

// unexpected turns the end of input inside a command into
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
