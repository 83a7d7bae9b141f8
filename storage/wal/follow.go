package wal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// The errors of a Follower besides *CorruptError; see Follower.Next.
var (
	// ErrNoMore says that every record written so far has been returned:
	// more may come.
	ErrNoMore = errors.New("wal: no more records yet")

	// ErrTorn is ErrNoMore (errors.Is(ErrTorn, ErrNoMore) holds) when a
	// record is partly written after the last whole one: the writer is
	// appending it, or crashed while it did (recovery cuts it off).
	ErrTorn = fmt.Errorf("%w: the next record is partly written", ErrNoMore)

	// ErrGenerationGone says that the log a Follower needs next was
	// removed by compaction: the records in it can be had only from a
	// later snapshot.
	ErrGenerationGone = errors.New("wal: log generation removed")

	// ErrPositionLost says that a position is not the end of a record of
	// its log: the log is shorter, or the byte before it is not a record's
	// '\n'. Either records before it were lost (a machine crash dropped
	// writes that were not synced, and the writer has since written others
	// in their place) or it never was a record's end.
	ErrPositionLost = errors.New("wal: position is not the end of a record")
)

var errFollowerClosed = fmt.Errorf("wal: follower: %w", os.ErrClosed)

const (
	// firstFollowRead is the size of the first read after a restart: a
	// follower is usually at the end of the log, with nothing or a few
	// records to read. Reads double from there up to readBufferSize.
	firstFollowRead = 4 << 10
	// checkEndChunk is the size of the reads that check the end of a
	// finished log.
	checkEndChunk = 64 << 10
)

// Follower reads the records of a storage directory's WAL from a Position
// on, following the log while a Writer appends to it and moving on to the
// next generation's log when the writer does, as the WAL tailer does (see
// the package doc, Following a live log).
//
// Next does not block: at the end of what has been written it returns
// ErrNoMore, and a later call reads on from Position(). When to call again
// is the caller's choice.
//
// A Follower is not safe for concurrent use.
type Follower struct {
	// MaxRecord is Reader.MaxRecord: the longest line, in bytes with its
	// '\n', that Next accepts. Zero means 64 MiB.
	MaxRecord int

	dir      string
	pos      Position
	logs     [3]string  // paths of the logs of pos.Generation and the two after it
	file     *os.File   // the log of pos.Generation, nil once closed
	src      tailSource // reads file from pos for rd
	rd       Reader
	reading  bool  // rd reads on at pos; if false the next read starts afresh there
	finished bool  // the log of pos.Generation will not grow: a newer one exists, or it was removed
	suspect  int64 // start of a line found corrupt once in a log still growing; -1 if none
	err      error // sticky: corrupt, position lost, generation gone, closed
}

// OpenAt returns a Follower of the WAL in dir that reads on from pos: the
// next record it returns starts at pos.Offset in LogName(pos.Generation).
// The error wraps ErrGenerationGone if that log does not exist (compaction
// removed it, or it was never written), ErrPositionLost if pos.Offset is not
// the end of a record in it, and ErrInvalidPosition for generation 0 or a
// negative offset.
func OpenAt(dir string, pos Position) (*Follower, error) {
	if pos.Generation == 0 || pos.Offset < 0 {
		return nil, fmt.Errorf("wal: open at %v: %w", pos, ErrInvalidPosition)
	}
	f := &Follower{dir: dir, pos: pos, suspect: -1}
	f.setLogs()
	file, err := os.Open(f.logs[0])
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrGenerationGone, f.logs[0])
	}
	if err != nil {
		return nil, fmt.Errorf("wal: open at %v: %w", pos, err)
	}
	f.file = file
	if err := f.checkPosition(); err != nil {
		file.Close()
		return nil, err
	}
	return f, nil
}

// Position returns the position after the last record Next returned (pos
// of OpenAt before the first), or the start of the log Next moved on to.
func (f *Follower) Position() Position { return f.pos }

// Next reads the next record into rec. It returns
//   - nil: rec holds the record, which ends at Position(). Its Key and
//     Value never alias the Follower's buffers, but Next decodes into
//     their capacity (as DecodeRecord), so to keep a record pass another
//     Record to the next call, or this one with Key and Value set to nil;
//   - ErrNoMore: no record after Position() is written yet. ErrTorn (which
//     is ErrNoMore too) says that one is partly written. A later call reads
//     the log again from Position(), so it sees what the writer has
//     appended since, also over its padding;
//   - a *CorruptError, at Offset Position().Offset: a line in the log that
//     is not a valid record, or a torn record or data after padding at the
//     end of a log that will not grow any more (see the package doc);
//   - an error wrapping ErrGenerationGone: the log after Position() was
//     removed by compaction before the Follower got to it; Position() is
//     the end of the log it finished;
//   - an error wrapping ErrPositionLost: the log no longer holds the
//     records before Position() (see ErrPositionLost);
//   - another error, of the file system; a later call tries again.
//
// The *CorruptError, ErrGenerationGone and ErrPositionLost are sticky: Next
// returns them from then on, and the caller acts (an operator, a resent
// snapshot, a new Follower). When the log of Position().Generation has been
// read to its end and the writer has left it (see the package doc), Next
// moves on to the next generation's log, at offset 0, and reads on there:
// Position() tells of the move, also when Next then returns ErrNoMore. It
// never skips a generation.
func (f *Follower) Next(rec *Record) error {
	if f.err != nil {
		return f.err
	}
	for {
		if !f.reading {
			if err := f.restart(); err != nil {
				return err
			}
		}
		stop := f.rd.Next(rec)
		if stop == nil {
			f.pos.Offset = f.rd.Offset()
			f.suspect = -1
			return nil
		}
		f.reading = false
		if err := f.stopped(stop); err != nil {
			return err
		}
	}
}

// stopped returns the error for Next when the Reader stopped with stop at
// f.pos, or nil to read on (at f.pos again, or at the start of the next log).
func (f *Follower) stopped(stop error) error {
	var ce *CorruptError
	switch {
	case errors.As(stop, &ce):
		if !f.finished && ce.Offset != f.suspect {
			// Read it once more: a read racing a write over
			// padding might have seen a line's end before its start.
			f.suspect = ce.Offset
			return nil
		}
		return f.fail(ce)
	case stop != io.EOF && stop != io.ErrUnexpectedEOF:
		return fmt.Errorf("wal: follow %s: %w", f.logs[0], stop)
	case !f.finished:
		return f.atLiveEnd(stop == io.ErrUnexpectedEOF)
	case stop == io.ErrUnexpectedEOF:
		return f.fail(&CorruptError{Offset: f.pos.Offset, Reason: "torn record at the end of a log the writer has left"})
	}
	if err := f.checkEnd(); err != nil {
		return err
	}
	return f.advance()
}

// atLiveEnd returns ErrNoMore (ErrTorn if torn) at the end of what is
// written to a log that may still grow, or nil to read the log to its end
// once more if it will not.
func (f *Follower) atLiveEnd(torn bool) error {
	done, err := f.logFinished()
	switch {
	case err != nil:
		return err
	case done:
		// The writer may have appended records between the read
		// that stopped and leaving the log.
		f.finished = true
		return nil
	case torn:
		return ErrTorn
	}
	return ErrNoMore
}

// Close closes the log file. Next fails after it. Close is idempotent.
func (f *Follower) Close() error {
	if f.file == nil {
		return nil
	}
	err := f.file.Close()
	f.file, f.err = nil, errFollowerClosed
	if err != nil {
		return fmt.Errorf("wal: close follower: %w", err)
	}
	return nil
}

// setLogs sets f.logs for f.pos.Generation.
func (f *Follower) setLogs() {
	for i := range f.logs {
		f.logs[i] = filepath.Join(f.dir, LogName(f.pos.Generation+uint64(i)))
	}
}

func (f *Follower) fail(err error) error {
	f.err = err
	return err
}

// restart starts reading the log afresh at f.pos, after checking that the
// records before it are still there.
func (f *Follower) restart() error {
	if err := f.checkPosition(); err != nil {
		return err
	}
	f.src.reset(f.file, f.pos.Offset)
	f.rd.MaxRecord = f.MaxRecord
	f.rd.Reset(&f.src, f.pos.Offset)
	f.reading = true
	return nil
}

// checkPosition fails with ErrPositionLost unless f.pos is the start of the
// log or follows a '\n' in it. The writer never writes over a record, so
// only lost records change that byte.
func (f *Follower) checkPosition() error {
	if f.pos.Offset == 0 {
		return nil
	}
	var b [1]byte
	_, err := f.file.ReadAt(b[:], f.pos.Offset-1)
	var why string
	switch {
	case err == io.EOF:
		why = "the log ends before it"
	case err != nil:
		return fmt.Errorf("wal: follow %s: %w", f.logs[0], err)
	case b[0] != '\n':
		why = fmt.Sprintf("the byte before it is %q, not the end of a record", b[0])
	default:
		return nil
	}
	return f.fail(fmt.Errorf("%w: %v in %s: %s", ErrPositionLost, f.pos, f.logs[0], why))
}

// logFinished reports whether the log of f.pos.Generation will not grow any
// more: the writer created a newer log, which it does after its last write
// to this one, or compaction removed this one, which it does only to logs
// the writer has left (the open file still reads). Compaction removes logs
// oldest first, so a removed next log means that this one is gone too; the
// log after next is looked for as well, in case the next one was removed
// out of order.
func (f *Follower) logFinished() (bool, error) {
	if ok, err := exists(f.logs[1]); ok || err != nil {
		return ok, err
	}
	if ok, err := exists(f.logs[2]); ok || err != nil {
		return ok, err
	}
	ok, err := exists(f.logs[0])
	return !ok, err
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("wal: follow: %w", err)
}

// checkEnd returns a sticky *CorruptError if the finished log has anything
// but padding after its last record: data after a zeroed block, which no
// reader can reach.
func (f *Follower) checkEnd() error {
	buf := make([]byte, checkEndChunk) // once per generation
	for off := f.pos.Offset; ; {
		n, err := f.file.ReadAt(buf, off)
		if i := n - len(bytes.TrimLeft(buf[:n], "\x00")); i < n {
			return f.fail(&CorruptError{Offset: f.pos.Offset,
				Reason: fmt.Sprintf("data at offset %d after zero bytes, at the end of a log the writer has left", off+int64(i))})
		}
		off += int64(n)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("wal: follow %s: %w", f.logs[0], err)
		}
	}
}

// advance moves on to the start of the next generation's log.
func (f *Follower) advance() error {
	file, err := os.Open(f.logs[1])
	if errors.Is(err, fs.ErrNotExist) {
		return f.fail(fmt.Errorf("%w: %s, after %v", ErrGenerationGone, f.logs[1], f.pos))
	}
	if err != nil {
		return fmt.Errorf("wal: follow: %w", err)
	}
	f.file.Close() // read only: nothing to lose
	f.file, f.pos, f.finished, f.suspect = file, Position{Generation: f.pos.Generation + 1}, false, -1
	f.setLogs()
	return nil
}

// tailSource reads a log from an offset for a Reader. It stops after the
// first NUL byte, where padding starts (see the package doc): what follows
// is not written yet, and reading all of it would cost a follower that is
// caught up a megabyte per poll. Its first read is small for the same
// reason; reads double while there is more to read.
type tailSource struct {
	f    *os.File
	off  int64
	size int  // bytes the next read asks for at most
	nul  bool // met a NUL: end of what is written
}

func (s *tailSource) reset(f *os.File, off int64) {
	*s = tailSource{f: f, off: off, size: firstFollowRead}
}

func (s *tailSource) Read(p []byte) (int, error) {
	if s.nul {
		return 0, io.EOF
	}
	p = p[:min(len(p), s.size)]
	s.size = min(2*s.size, readBufferSize)
	n, err := s.f.ReadAt(p, s.off)
	if i := bytes.IndexByte(p[:n], 0); i >= 0 {
		n, err, s.nul = i+1, nil, true
	}
	s.off += int64(n)
	return n, err
}
