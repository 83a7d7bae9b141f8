package resp

import "bytes"

// inline reads an inline command line and splits it into arguments; it
// returns nil for a blank line.
func (p *Parser) inline() ([][]byte, error) {
	var long []byte // the start of a line longer than the reader's buffer
	scanned := 0    // buffered bytes known not to hold \n
	for {
		buf, _ := p.r.Peek(p.r.Buffered())
		if i := bytes.IndexByte(buf[scanned:], '\n'); i >= 0 {
			end := scanned + i
			line := buf[:end]
			if long != nil {
				line = append(long, line...)
				p.keepLine(line)
			}
			args, err := p.splitLine(line)
			p.r.Discard(end + 1)
			return args, err
		}
		scanned = len(buf)
		if len(long)+len(buf) > p.maxInline+1 { // +1: it may end with the \r before \n
			return nil, errTooBigInline()
		}
		if len(buf) == p.r.Size() {
			if long == nil {
				long = p.line[:0]
			}
			long = append(long, buf...)
			p.r.Discard(len(buf))
			scanned = 0
		}
		if _, err := p.r.Peek(scanned + 1); err != nil {
			return nil, unexpected(err)
		}
	}
}

// keepLine keeps line's memory as scratch for the next long line, unless it
// is too large to keep around.
func (p *Parser) keepLine(line []byte) {
	if cap(line) <= DefaultMaxInline+p.r.Size() {
		p.line = line[:0]
	}
}

// splitLine drops the \r that ends line, if any, and splits the rest.
func (p *Parser) splitLine(line []byte) ([][]byte, error) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) > p.maxInline {
		return nil, errTooBigInline()
	}
	return p.splitInline(line)
}

func errTooBigInline() error { return protocolError("too big inline request") }

// splitInline splits line into arguments as Redis' sdssplitargs does,
// copying them into one new buffer; it returns nil for a blank line.
func (p *Parser) splitInline(line []byte) ([][]byte, error) {
	if i := bytes.IndexByte(line, 0); i >= 0 {
		line = line[:i] // Redis sees a C string
	}
	var data []byte
	spans := p.spans[:0]
	for i := 0; ; {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		if data == nil {
			data = make([]byte, 0, len(line)-i)
		}
		start := len(data)
		var ok bool
		if data, i, ok = appendToken(data, line, i); !ok {
			return nil, protocolError("unbalanced quotes in request")
		}
		if len(spans) == p.maxArgs {
			return nil, protocolError("too many arguments in inline request")
		}
		spans = append(spans, span{start, len(data) - start})
	}
	if cap(spans) <= keepSpans {
		p.spans = spans
	}
	if len(spans) == 0 {
		return nil, nil
	}
	args := make([][]byte, len(spans))
	for i, s := range spans {
		args[i] = data[s.off : s.off+s.n : s.off+s.n]
	}
	return args, nil
}

// appendToken appends to dst the token of line starting at i (not a space)
// with its quoting undone, and returns the index after it; ok is false for
// unbalanced quotes.
func appendToken(dst, line []byte, i int) (_ []byte, next int, ok bool) {
	for ; i < len(line); i++ {
		switch c := line[i]; c {
		case ' ', '\n', '\r', '\t':
			return dst, i + 1, true
		case '"':
			return appendQuoted(dst, line, i+1)
		case '\'':
			return appendSingleQuoted(dst, line, i+1)
		default:
			dst = append(dst, c)
		}
	}
	return dst, i, true
}

// appendQuoted appends a "double quoted" string whose opening quote is
// before line[i], undoing its escapes.
func appendQuoted(dst, line []byte, i int) ([]byte, int, bool) {
	for ; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]):
			dst = append(dst, unhex(line[i+2])<<4|unhex(line[i+3]))
			i += 3
		case c == '\\' && i+1 < len(line):
			i++
			dst = append(dst, unescape(line[i]))
		case c == '"':
			return closeQuote(dst, line, i)
		default:
			dst = append(dst, c)
		}
	}
	return dst, i, false
}

// appendSingleQuoted appends a 'single quoted' string whose opening quote
// is before line[i]; \' is its only escape.
func appendSingleQuoted(dst, line []byte, i int) ([]byte, int, bool) {
	for ; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line) && line[i+1] == '\'':
			i++
			dst = append(dst, '\'')
		case c == '\'':
			return closeQuote(dst, line, i)
		default:
			dst = append(dst, c)
		}
	}
	return dst, i, false
}

// closeQuote ends a token at the closing quote line[i], which must be
// followed by a space or the end of the line.
func closeQuote(dst, line []byte, i int) ([]byte, int, bool) {
	if i+1 < len(line) && !isSpace(line[i+1]) {
		return dst, i, false
	}
	return dst, i + 1, true
}

// isSpace is C's isspace.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}
