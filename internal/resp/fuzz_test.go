package resp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzParser: the parser never panics, never returns a command with more
// arguments than MaxArgs or an argument beyond the limits, allocates in
// proportion to its input, and reads back what AppendArray/AppendBulk wrote.
func FuzzParser(f *testing.F) {
	for _, seed := range []string{
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n",
		"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$6\r\na\r\nb\x00c\r\n",
		"*0\r\n*-1\r\n*1\r\n$0\r\n\r\n",
		"PING\r\nSET \"a b\" 'c\\'d' \"\\x41\\n\"\n\r\n",
		"foo\"bar baz\" x\x00y\r\n",
		"*1\r\n$500000000\r\nabc",
		"*1048576\r\n$0\r\n\r\n$0\r\n\r\n",
		"*2\r\n$3\r\nGET\r\n:1\r\n",
		"*1\r\n$-1\r\n", "*-2\r\n", "*x\r\n", "*1\n", "*1\r\n$4\r\nPINGxx",
		"SET \"a\r\n", "SET 'a'b\n", "\"\\x4",
	} {
		f.Add([]byte(seed))
	}
	small := Config{MaxBulk: 8, MaxArgs: 4, MaxInline: 32}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, bufSize := range []int{16, 4096} {
			checkParse(t, data, bufSize, Config{}, DefaultMaxArgs, DefaultMaxBulk, DefaultMaxInline)
			checkParse(t, data, bufSize, small, small.MaxArgs, small.MaxBulk, small.MaxInline)
		}
	})
}

func checkParse(t *testing.T, data []byte, bufSize int, cfg Config, maxArgs, maxBulk, maxInline int) {
	r := bufio.NewReaderSize(bytes.NewReader(data), bufSize)
	p := NewParser(r, cfg)
	var cmds [][][]byte
	var err error
	alloc := allocated(func() {
		for len(cmds) <= len(data) {
			var args [][]byte
			if args, err = p.Next(); err != nil {
				return
			}
			cmds = append(cmds, args)
		}
	})
	if len(cmds) > len(data) {
		t.Fatalf("%d commands from %d bytes", len(cmds), len(data))
	}
	var perr *ProtocolError
	if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.As(err, &perr) {
		t.Fatalf("unexpected error %v", err)
	}
	if limit := uint64(2*bulkChunk + 64*len(data)); alloc > limit {
		t.Fatalf("allocated %d bytes for %d bytes of input", alloc, len(data))
	}
	var frames []byte
	for _, args := range cmds {
		if len(args) == 0 || len(args) > maxArgs {
			t.Fatalf("command with %d arguments (MaxArgs %d)", len(args), maxArgs)
		}
		frames = AppendArray(frames, len(args))
		for _, a := range args {
			if len(a) > max(maxBulk, maxInline) {
				t.Fatalf("argument of %d bytes", len(a))
			}
			frames = AppendBulk(frames, a)
		}
	}
	// Round trip: the commands, encoded as multibulk frames, parse back.
	p = NewParser(bufio.NewReader(bytes.NewReader(frames)), Config{})
	for i, want := range cmds {
		got, err := p.Next()
		if err != nil {
			t.Fatalf("round trip of command %d: %v", i, err)
		}
		if len(got) != len(want) {
			t.Fatalf("round trip of command %d: %q, want %q", i, got, want)
		}
		for j := range got {
			if !bytes.Equal(got[j], want[j]) {
				t.Fatalf("round trip of command %d: %q, want %q", i, got, want)
			}
		}
	}
	if _, err := p.Next(); err != io.EOF {
		t.Fatalf("round trip: %v after the commands, want EOF", err)
	}
}
