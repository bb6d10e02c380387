package policy

import (
	"strings"
	"unicode/utf8"
)

// Patterns are kept as "escaped globs": '*' matches any run of characters,
// '?' matches one character, and a backslash makes the next byte literal.
// Text from the policy keeps its wildcards; text that a policy variable
// produced (including ${*}, ${?} and ${$}) is escaped, so it only ever
// matches itself.

// escapeGlob makes s match only itself.
func escapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '*' || c == '?' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// escapeBackslashes keeps s's wildcards but makes its backslashes literal.
func escapeBackslashes(s string) string {
	return strings.ReplaceAll(s, `\`, `\\`)
}

// globMatch reports whether s matches the escaped glob p. It backtracks only
// to the most recent '*', so it runs in O(len(p)·len(s)) at worst.
func globMatch(p, s string) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for pi < len(p) || si < len(s) {
		if pi < len(p) {
			switch c := p[pi]; c {
			case '*':
				if pi+1 == len(p) {
					return true // a trailing '*' takes whatever is left
				}
				starP, starS = pi, si
				pi++
				continue
			case '?':
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					pi++
					si += n
					continue
				}
			case '\\':
				if pi+1 < len(p) && si < len(s) && s[si] == p[pi+1] {
					pi += 2
					si++
					continue
				}
			default:
				if si < len(s) && s[si] == c {
					pi++
					si++
					continue
				}
			}
		}
		if starP < 0 || starS >= len(s) {
			return false
		}
		if s[starS] < utf8.RuneSelf {
			starS++
		} else {
			_, n := utf8.DecodeRuneInString(s[starS:])
			starS += n
		}
		pi, si = starP+1, starS
	}
	return true
}

// arnParts is the number of colon-separated parts of an ARN:
// arn:partition:service:region:account:resource.
const arnParts = 6

// arnMatch matches the six colon-separated parts of an ARN separately, as the
// Arn condition operators and the Resource element do, so a wildcard never
// spans a colon before the resource part. The resource part is everything
// after the fifth colon. When either side is not shaped like an ARN the whole
// strings are compared as a glob, which lets "*" match anything and lets an
// ARN pattern never match the "*" resource of actions without resource-level
// permissions.
func arnMatch(p, s string) bool {
	if p == "*" {
		return true
	}
	if !hasARNShape(p) {
		return globMatch(p, s)
	}
	for range arnParts - 1 {
		pi := strings.IndexByte(p, ':')
		si := strings.IndexByte(s, ':')
		if si < 0 {
			return false // an ARN pattern does not match a non-ARN value
		}
		// ':' is never escaped, so cutting at it keeps escapes whole.
		if !globMatch(p[:pi], s[:si]) {
			return false
		}
		p, s = p[pi+1:], s[si+1:]
	}
	return globMatch(p, s)
}

// hasARNShape reports whether p has the five colons of an ARN.
func hasARNShape(p string) bool {
	n := 0
	for i := 0; i < len(p) && n < arnParts-1; i++ {
		if p[i] == ':' {
			n++
		}
	}
	return n == arnParts-1
}
