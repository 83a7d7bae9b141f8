package resp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// repeatReader returns data over and over.
type repeatReader struct {
	data []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.off:])
		n += c
		r.off = (r.off + c) % len(r.data)
	}
	return n, nil
}

func benchmarkParser(b *testing.B, frame string) {
	p := NewParser(bufio.NewReaderSize(&repeatReader{data: []byte(frame)}, readBufferSize), Config{})
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParserSet(b *testing.B) {
	benchmarkParser(b, frame("SET", "key:000000000042", "xxx"))
}

func BenchmarkParserSetInline(b *testing.B) {
	benchmarkParser(b, "SET key:000000000042 xxx\r\n")
}

func BenchmarkParserSet16KiB(b *testing.B) {
	benchmarkParser(b, frame("SET", "key:000000000042", strings.Repeat("x", 16<<10)))
}

// BenchmarkParserManyArgs: a frame larger than the read buffer with many
// small arguments (a merged REPL.MPUT, an MSET) is read in linear time.
func BenchmarkParserManyArgs(b *testing.B) {
	args := []string{"REPL.MPUT"}
	for range 1000 {
		args = append(args, "key:000000000042", strings.Repeat("x", 256), "1700000000000.0.sfo-10600")
	}
	benchmarkParser(b, frame(args...))
}

// benchHandler answers PING (Serial) and GET (Read) with constants.
type benchHandler struct{}

var (
	pong = []byte("+PONG\r\n")
	null = []byte("$-1\r\n")
)

func (benchHandler) Class(args [][]byte) Class {
	if len(args[0]) == 3 {
		return Read
	}
	return Serial
}

func (benchHandler) Exec(_ context.Context, _ *Conn, args [][]byte) []byte {
	if len(args[0]) == 3 {
		return null
	}
	return pong
}

// benchmarkServer sends depth copies of req per round trip and reads the
// depth replies, over loopback.
func benchmarkServer(b *testing.B, req, reply string, depth int) {
	ts := startServer(b, benchHandler{}, Config{})
	nc, err := net.Dial("tcp", ts.addr())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	batch := []byte(strings.Repeat(req, depth))
	want := make([]byte, len(reply)*depth)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := nc.Write(batch); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(nc, want); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*depth)/b.Elapsed().Seconds(), "cmds/s")
}

func BenchmarkServerPing(b *testing.B) {
	benchmarkServer(b, frame("PING"), "+PONG\r\n", 1)
}

func BenchmarkServerPingPipelined16(b *testing.B) {
	benchmarkServer(b, frame("PING"), "+PONG\r\n", 16)
}

// BenchmarkServerGetPipelined16: Read commands, which run concurrently.
func BenchmarkServerGetPipelined16(b *testing.B) {
	benchmarkServer(b, frame("GET", "k"), "$-1\r\n", 16)
}

func BenchmarkServerGet(b *testing.B) {
	benchmarkServer(b, frame("GET", "k"), "$-1\r\n", 1)
}

// benchMux is a Mux with the housekeeping commands and GET, SET and DEL
// that reply a constant.
func benchMux(b *testing.B, cfg MuxConfig) *Mux {
	m, err := NewMux(cfg)
	if err != nil {
		b.Fatal(err)
	}
	reply := AppendOK(nil)
	run := func(context.Context, *Conn, [][]byte) []byte { return reply }
	for _, name := range []string{"GET", "SET", "DEL", "MGET", "EXISTS", "REPL.PUT", "REPL.MPUT", "VVER", "MVVER", "VGET"} {
		m.Register(Command{Name: name, Arity: -2, Class: Read, Run: run})
	}
	return m
}

// BenchmarkMuxLookup: finding a command by a name in mixed case, as the
// server does per command (Class, then Async), allocates nothing.
func BenchmarkMuxLookup(b *testing.B) {
	m := benchMux(b, MuxConfig{})
	args := [][]byte{[]byte("Repl.MPut"), []byte("key"), []byte("value"), []byte("1.0.n")}
	b.ReportAllocs()
	for b.Loop() {
		if m.Class(args) != Read || m.Async(args) {
			b.Fatal("wrong command")
		}
	}
}

// BenchmarkMuxExec: lookup, arity check, run and counters of a command,
// without and with MuxConfig.Timing.
func BenchmarkMuxExec(b *testing.B) {
	for _, timing := range []bool{false, true} {
		b.Run(fmt.Sprint("timing=", timing), func(b *testing.B) {
			m := benchMux(b, MuxConfig{Timing: timing})
			c := &Conn{created: time.Now()}
			ctx := context.Background()
			args := [][]byte{[]byte("get"), []byte("key:000000000042")}
			b.ReportAllocs()
			for b.Loop() {
				if r := m.Exec(ctx, c, args); r[0] != '+' {
					b.Fatalf("reply %q", r)
				}
			}
		})
	}
}

// BenchmarkMuxServer: a Mux command through a real connection.
func BenchmarkMuxServer(b *testing.B) {
	ts := startServer(b, benchMux(b, MuxConfig{}), Config{})
	nc := dial(b, ts.addr())
	nc.SetDeadline(time.Time{})
	r := bufio.NewReader(nc)
	req := []byte(frame("GET", "key:000000000042"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := nc.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := r.ReadSlice('\n'); err != nil {
			b.Fatal(err)
		}
	}
}
