package wal

// Keys and values are percent-encoded; see the package documentation.

import "fmt"

const hexDigits = "0123456789ABCDEF"

// plain[c] reports whether byte c stands for itself in a key or value; every
// other byte is written as an escape.
var plain = func() (t [256]bool) {
	for c := 0x21; c <= 0x7E; c++ {
		t[c] = c != '%' && c != '=' && c != '@'
	}
	return t
}()

// unhex maps an uppercase hex digit to its value and anything else to 0xFF.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for i := range 16 {
		t[hexDigits[i]] = byte(i)
	}
	return t
}()

// appendEscaped appends the percent-encoding of b to dst.
func appendEscaped(dst, b []byte) []byte {
	for {
		i := 0
		for i < len(b) && plain[b[i]] {
			i++
		}
		dst = append(dst, b[:i]...)
		if i == len(b) {
			return dst
		}
		c := b[i]
		dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&0xF])
		b = b[i+1:]
	}
}

// unescape appends the bytes that src, a key or value field, encodes to dst.
// It returns the extended dst, or why src is not canonical.
func unescape(dst, src []byte) ([]byte, string) {
	i := 0
	for {
		start := i
		for i < len(src) && plain[src[i]] {
			i++
		}
		dst = append(dst, src[start:i]...)
		if i == len(src) {
			return dst, ""
		}
		if src[i] != '%' || i+2 >= len(src) {
			return dst, badEscape(src, i)
		}
		hi, lo := unhex[src[i+1]], unhex[src[i+2]]
		c := hi<<4 | lo
		if hi|lo > 0xF || plain[c] {
			return dst, badEscape(src, i)
		}
		dst = append(dst, c)
		i += 3
	}
}

// badEscape explains why src[i], a byte that is not plain, does not start a
// canonical escape.
func badEscape(src []byte, i int) string {
	switch c := src[i]; {
	case c != '%' && c > ' ' && c < 0x7F:
		return fmt.Sprintf("unescaped %q", c)
	case c != '%':
		return fmt.Sprintf("unescaped byte 0x%02x", c)
	case i+2 >= len(src):
		return "truncated escape"
	case unhex[src[i+1]]|unhex[src[i+2]] > 0xF:
		return fmt.Sprintf("bad escape %q: want %%XX with uppercase hex", src[i:i+3])
	default:
		return fmt.Sprintf("needless escape %q for %q", src[i:i+3], unhex[src[i+1]]<<4|unhex[src[i+2]])
	}
}
