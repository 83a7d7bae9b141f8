package caching

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// parseInt parses b as Redis's string2ll does: optional '-', then decimal
// digits without a leading zero (or exactly "0"), in int64 range, at most
// 20 bytes. No '+', no spaces, no "-0".
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return int64(-v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// longDoublePrec is the mantissa of x87 extended precision, Redis's long
// double on amd64: INCRBYFLOAT computes in it so that its results match.
const longDoublePrec = 64

// maxFloatText bounds the text of a float argument (Redis's
// MAX_LONG_DOUBLE_CHARS).
const maxFloatText = 5 * 1024

// maxLongDoubleExp is the binary exponent past which a long double is
// infinite; maxDecimalExp bounds the decimal exponent parseFloat takes
// (strtold reports a range error well before it).
const (
	maxLongDoubleExp = 16384
	maxDecimalExp    = 5000
)

// parseFloat parses b as Redis's string2ld does (strtold): no leading
// space, the whole text a number, not NaN. Infinities parse.
func parseFloat(b []byte) (*big.Float, bool) {
	if len(b) == 0 || len(b) >= maxFloatText || isSpace(b[0]) {
		return nil, false
	}
	s := string(b)
	switch strings.ToLower(strings.TrimLeft(s, "+-")) {
	case "inf", "infinity":
		return new(big.Float).SetInf(s[0] == '-'), true
	case "nan":
		return nil, false
	}
	if strings.ContainsAny(s, "_") {
		return nil, false // Go's digit separators, which strtold refuses
	}
	base := 10
	if t := strings.TrimLeft(s, "+-"); len(t) > 1 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') {
		base = 0 // hexadecimal with a 'p' exponent, as strtold reads it
	} else if i := strings.IndexAny(s, "eE"); i >= 0 {
		if exp, err := strconv.Atoi(s[i+1:]); err == nil && (exp > maxDecimalExp || exp < -maxDecimalExp) {
			return nil, false
		}
	}
	f, _, err := big.ParseFloat(s, base, longDoublePrec, big.ToNearestEven)
	if err != nil || f.MantExp(nil) > maxLongDoubleExp {
		return nil, false
	}
	return f, true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// formatFloat formats f as Redis's ld2string with LD_STR_HUMAN does:
// "%.17Lf" without trailing zeros (and then without a trailing '.'),
// "-0" as "0".
func formatFloat(f *big.Float) string {
	s := f.Text('f', 17)
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}
