package wg

import (
	"net/netip"
	"strings"
	"testing"

	"planet/regions"
)

// testKey returns a fixed private key that differs for each n.
func testKey(n byte) PrivateKey {
	var k PrivateKey
	for i := range k {
		k[i] = n
	}
	return k
}

// testTable returns a table of sfo, nyc and ams in 198.19.0.0/24 with
// endpoints in 198.18.0.0/15, their keys testKey(1), (2) and (3), with
// replace applied to its text first (pairs of old, new).
func testTable(tb testing.TB, replace ...string) *regions.Table {
	tb.Helper()
	text := "mesh 198.19.0.0/24\n" +
		"region sfo 198.19.0.1 198.18.0.1:51820 " + testKey(1).PublicKey().String() + "\n" +
		"region nyc 198.19.0.2 198.18.0.2:51820 " + testKey(2).PublicKey().String() + "\n" +
		"region ams 198.19.0.3 ams.test:51820 " + testKey(3).PublicKey().String() + "\n"
	text = strings.NewReplacer(replace...).Replace(text)
	t, err := regions.Parse(strings.NewReader(text))
	if err != nil {
		tb.Fatal(err)
	}
	if errs := t.Check(); errs != nil {
		tb.Fatal(errs)
	}
	return t
}

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func prefixes(ss ...string) []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range ss {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}
