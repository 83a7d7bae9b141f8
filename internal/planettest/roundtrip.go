package planettest

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// RoundTrip sends data to the RESP server at addr, closes the sending
// side and returns everything the server answers until it closes the
// connection (the fuzz targets' probe of storage and caching).
func RoundTrip(tb testing.TB, addr string, data []byte) []byte {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
	}()
	out, err := io.ReadAll(bufio.NewReader(c))
	if err != nil {
		tb.Fatalf("reading the reply to %q: %v", data, err)
	}
	return out
}
