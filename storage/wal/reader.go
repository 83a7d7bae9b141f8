package wal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

const (
	defaultMaxRecord = 64 << 20
	readBufferSize   = 1 << 20
)

// Reader reads records from a log or snapshot file.
//
// It stops at the first line that is not a valid record and keeps returning
// the same *CorruptError: a corrupt log needs an operator or recovery to cut
// it (see Truncate), not a retry. A torn tail is not corruption: Next returns
// io.ErrUnexpectedEOF, and a later call, or a new Reader opened at Offset(),
// picks the line up once the writer has finished it.
type Reader struct {
	// MaxRecord is the length in bytes of the longest line, including its
	// '\n', that Next accepts; a longer line is corrupt, and Next buffers
	// no more than that while looking for its end. Zero means 64 MiB.
	MaxRecord int

	src     io.Reader
	buf     *bufio.Reader // created on first use, after MaxRecord is set
	off     int64         // file offset just past the last good record
	partial []byte        // start of the current line, when it did not come in one piece
	err     *CorruptError // sticky
	padded  error         // io.EOF or io.ErrUnexpectedEOF once padding was met; sticky
}

// NewReader returns a Reader of r, whose first byte is at file offset offset
// (used in errors and by Offset).
func NewReader(r io.Reader, offset int64) *Reader {
	return &Reader{src: r, off: offset}
}

// Reset makes r read from src, whose first byte is at file offset offset, as
// a new Reader would, keeping its buffers and MaxRecord: a reader that
// follows a log restarts at Offset() this way without allocating.
func (r *Reader) Reset(src io.Reader, offset int64) {
	r.src, r.off = src, offset
	if r.buf != nil {
		r.buf.Reset(src)
	}
	r.partial = r.partial[:0]
	r.err, r.padded = nil, nil
}

// Offset returns the file offset just past the last good record returned by
// Next: where a new Reader resumes, or where recovery cuts a bad tail.
func (r *Reader) Offset() int64 { return r.off }

// Next reads the next record into rec. It returns
//   - nil: rec holds the next record (its slices are valid until the next
//     call);
//   - io.EOF: clean end: the last record ended with '\n', or there was no
//     data, or padding follows it (see the package doc);
//   - io.ErrUnexpectedEOF: data after the last complete record does not end
//     in '\n' yet (a torn tail, or the writer is mid-append). Offset() is
//     unchanged; calling Next again reads on from where it stopped, unless
//     the reader met padding: then only a new Reader at Offset() does;
//   - *CorruptError: a complete line that is not a valid record (bad crc,
//     grammar, longer than MaxRecord), with Offset() and the error's Offset
//     at the start of that line;
//   - any other error from the underlying reader.
func (r *Reader) Next(rec *Record) error {
	if r.err != nil {
		return r.err
	}
	line, err := r.readLine()
	if err != nil {
		return err
	}
	if err := DecodeRecord(line, rec); err != nil {
		var ce *CorruptError
		if !errors.As(err, &ce) {
			return err
		}
		return r.fail(ce.Reason)
	}
	r.off += int64(len(line))
	r.partial = r.partial[:0]
	return nil
}

// readLine returns the next line including its '\n', from the buffer when it
// fits there and from r.partial otherwise.
func (r *Reader) readLine() ([]byte, error) {
	if r.padded != nil {
		return nil, r.padded
	}
	if r.buf == nil {
		r.buf = bufio.NewReaderSize(r.src, readBufferSize)
	}
	limit := r.MaxRecord
	if limit <= 0 {
		limit = defaultMaxRecord
	}
	for {
		chunk, err := r.buf.ReadSlice('\n')
		if i := bytes.IndexByte(chunk, 0); i >= 0 {
			// Padding: the end of what was written (see the package doc).
			r.padded = io.ErrUnexpectedEOF
			if len(r.partial) == 0 && i == 0 {
				r.padded = io.EOF
			}
			return nil, r.padded
		}
		if len(r.partial)+len(chunk) > limit {
			return nil, r.fail(fmt.Sprintf("line longer than %d bytes", limit))
		}
		if err == nil && len(r.partial) == 0 {
			return chunk, nil
		}
		r.partial = append(r.partial, chunk...)
		switch {
		case err == nil:
			return r.partial, nil
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(r.partial) == 0:
			return nil, io.EOF
		case err == io.EOF:
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

// fail makes a corrupt line at the current offset the sticky error.
func (r *Reader) fail(reason string) error {
	r.err = &CorruptError{Offset: r.off, Reason: reason}
	r.partial = nil
	return r.err
}
