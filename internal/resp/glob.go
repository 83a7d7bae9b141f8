package resp

// GlobMatch reports whether s matches the glob-style pattern, as Redis's
// KEYS, SCAN MATCH and CONFIG GET match: * (any run of bytes), ? (one
// byte), [abc], [^abc], [a-z] (a reversed range works too), and \ to
// quote the next byte. Matching is bytewise and case-sensitive. Redis's
// quirks are kept: a class extends to the end of the pattern if no ]
// closes it, a range compares bytes as signed C chars, and "*" matches
// everything, the empty string included (KEYS and SCAN special-case it),
// while "**" does not match the empty string.
func GlobMatch(pattern, s []byte) bool { return globMatch(pattern, s, false) }

// globMatch is GlobMatch, in any ASCII case if nocase.
func globMatch(pattern, s []byte, nocase bool) bool {
	if len(pattern) == 1 && pattern[0] == '*' {
		return true
	}
	skipLonger := false
	return globMatchFrom(pattern, s, nocase, &skipLonger, 0)
}

// maxGlobNesting bounds the recursion on stars, as Redis does.
const maxGlobNesting = 1000

// globMatchFrom is a port of Redis's stringmatchlen_impl. When a star
// fails to match the rest of s from any position, no longer match can
// succeed either (skipLonger), which keeps the time polynomial.
func globMatchFrom(p, s []byte, nocase bool, skipLonger *bool, nesting int) bool {
	if nesting > maxGlobNesting {
		return false
	}
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for len(s) > 0 {
				if globMatchFrom(p[1:], s, nocase, skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				s = s[1:]
			}
			*skipLonger = true
			return false
		case '?':
			s = s[1:]
		case '[':
			var ok bool
			p, ok = matchGlobClass(p[1:], s[0], nocase)
			if !ok {
				return false
			}
			s = s[1:]
		default:
			if p[0] == '\\' && len(p) >= 2 {
				p = p[1:]
			}
			if !sameByte(p[0], s[0], nocase) {
				return false
			}
			s = s[1:]
		}
		p = p[1:]
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			break
		}
	}
	return len(p) == 0 && len(s) == 0
}

// matchGlobClass matches c against the class whose body starts p (after
// the '['). It returns the pattern from the class's last byte (its ']',
// or the pattern's last byte if unclosed) on, and whether c matched.
func matchGlobClass(p []byte, c byte, nocase bool) ([]byte, bool) {
	not := len(p) > 0 && p[0] == '^'
	if not {
		p = p[1:]
	}
	match := false
	for {
		switch {
		case len(p) >= 2 && p[0] == '\\':
			p = p[1:]
			match = match || p[0] == c
		case len(p) > 0 && p[0] == ']':
			return p, match != not
		case len(p) == 0:
			// Unclosed: the class ends with the pattern. (Redis steps
			// back onto the last byte, which its caller steps over.)
			return unclosedClass, match != not
		case len(p) >= 3 && p[1] == '-':
			// Redis compares C chars, signed: bytes from 0x80 on
			// sort before the ASCII ones.
			lo, hi, x := int8(p[0]), int8(p[2]), int8(c)
			if lo > hi {
				lo, hi = hi, lo
			}
			if nocase {
				lo, hi, x = int8(lower(byte(lo))), int8(lower(byte(hi))), int8(lower(byte(x)))
			}
			match = match || lo <= x && x <= hi
			p = p[2:]
		default:
			match = match || sameByte(p[0], c, nocase)
		}
		p = p[1:]
	}
}

// unclosedClass is what matchGlobClass returns for a class that the
// pattern does not close: one byte, which the caller steps over.
var unclosedClass = []byte{']'}

func sameByte(a, b byte, nocase bool) bool {
	return a == b || nocase && lower(a) == lower(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
