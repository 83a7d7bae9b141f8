package caching

import (
	"strings"
	"testing"

	pt "planet/internal/planettest"
)

// FuzzServer sends arbitrary bytes to a running cache: whatever they are,
// it answers (replies or a protocol error), closes the connection when the
// client is done, and keeps serving.
func FuzzServer(f *testing.F) {
	for _, seed := range []string{
		"*1\r\n$4\r\nPING\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"SET a b EX 10\r\nSET a b PX 100 NX\r\nSET a c XX KEEPTTL GET\r\nSET a b EXAT 99999999999\r\nSET a b PXAT -1\r\n",
		"SETNX a b\r\nSETEX a 10 b\r\nPSETEX a 0 b\r\nGETSET a c\r\nGETDEL a\r\nGETEX a PERSIST\r\nGETEX a EX 5\r\n",
		"MSET a 1 b 2\r\nMSETNX c 3 a 4\r\nMGET a b c d\r\nMSET a\r\n",
		"APPEND a xyz\r\nSTRLEN a\r\nGETRANGE a 0 -1\r\nGETRANGE a -100 100\r\nSETRANGE a 5 q\r\nSETRANGE a 536870912 x\r\n",
		"INCR n\r\nDECR n\r\nINCRBY n 9223372036854775807\r\nDECRBY n -1\r\nINCRBYFLOAT n 1e308\r\nINCRBYFLOAT n nan\r\n",
		"DEL a b c\r\nUNLINK a\r\nEXISTS a a b\r\nTYPE a\r\nRENAME a b\r\nRENAMENX b a\r\nRANDOMKEY\r\nDBSIZE\r\n",
		"EXPIRE a 10 NX\r\nPEXPIRE a 100 GT\r\nEXPIREAT a 0 LT\r\nPEXPIREAT a 99999999999999 XX\r\nEXPIRE a 10 NX XX\r\n",
		"TTL a\r\nPTTL a\r\nEXPIRETIME a\r\nPEXPIRETIME a\r\nPERSIST a\r\n",
		"KEYS *\r\nKEYS a[b-\r\nSCAN 0 MATCH a* COUNT 5 TYPE string\r\nSCAN 99999999999\r\nSCAN 0 COUNT -1\r\n",
		"CONFIG SET maxmemory 1kb\r\nCONFIG SET maxmemory-policy noeviction\r\nSET big " + strings.Repeat("v", 2000) + "\r\nCONFIG SET maxmemory 0\r\n",
		"CONFIG SET maxmemory-policy allkeys-lru\r\nCONFIG GET *\r\nFLUSHDB\r\nFLUSHALL ASYNC\r\nINFO\r\nINFO keyspace\r\n",
		"SELECT 1\r\nCLIENT SETNAME x\r\nHELLO 3\r\nECHO \"a\\x00b\"\r\nAUTH x\r\nQUIT\r\n",
		"PLANET.MODE strong\r\nSET a 1\r\nPLANET.ACKS\r\nPLANET.MODE quorum CONNECTION\r\nDEL a\r\nPLANET.MODE bogus\r\nDEBUG SLEEP 0\r\nDEBUG SLEEP x\r\n",
		"CACHE.APPLY \"S\\x01k\\x01v\\x00\\x01\\x01n\" \"D\\x01k\\x02\\x01n\"\r\nCACHE.APPLY S k\r\nCACHE.DUMP 0 10\r\nCACHE.DUMP 2000 1\r\n",
		"CONFIG SET cache-mode strong\r\nCONFIG SET cache-strong-timeout 10\r\nSET a 1\r\nCONFIG SET cache-mode eventual\r\n",
		"*2\r\n$3\r\nGET\r\n$-5\r\n", "*-1\r\n", "$3\r\nabc\r\n", "\"unbalanced\r\n",
	} {
		f.Add([]byte(seed))
	}
	s := startServer(f, Config{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 || strings.Contains(strings.ToLower(string(data)), "debug") {
			return // DEBUG SLEEP n sleeps n seconds, by design
		}
		pt.RoundTrip(t, s.Addr(), data)
		if got := string(pt.RoundTrip(t, s.Addr(), []byte("PING\r\n"))); got != "+PONG\r\n" {
			t.Fatalf("after %q the server answers PING with %q", data, got)
		}
	})
}
