package document

import (
	"errors"
	"fmt"
	"strings"
)

// quoting is the shell quoting in force where a reference appears.
type quoting uint8

const (
	unquoted quoting = iota // command text, including inside $( ... )
	inDouble                // inside "..."
	inSingle                // inside '...'
)

// shellRef is a reference in a Linux command template and the quoting the
// shell will be in when it reads it.
type shellRef struct {
	ref
	quoting quoting
}

type frameKind uint8

const (
	frameTop      frameKind = iota // unquoted command text
	frameSubst                     // $( ... ): unquoted, ends at its )
	frameDouble                    // " ... "
	frameSingle                    // ' ... '
	frameBacktick                  // ` ... `
	frameBrace                     // ${ ... }
	frameArith                     // $(( ... )), (( ... )), $[ ... ]
	frameComment                   // # to the end of the line
)

type frame struct {
	kind  frameKind
	depth int  // open parentheses or brackets (subst, brace, arith)
	open  byte // arith: '(' or '['
	cmd   bool // arith: (( ... )), the command rather than the expansion
	// quotes counts unescaped ' and " inside backticks: an odd count at
	// the closing backtick means POSIX leaves the result undefined.
	singles, doubles int
}

// scanShell lexes a POSIX sh command template far enough to know, for each
// reference, whether the shell reads it unquoted, inside double quotes or
// inside single quotes, which decides how LinuxCommands quotes the value.
//
// The lexer is deliberately conservative. A reference is refused when it
// sits where no quoting is reliable: inside a comment, backticks, ${...},
// an arithmetic expression, directly after a backslash or a $, or anywhere
// after a construct whose extent the lexer cannot be sure of across shells
// (here-documents, $'...', a case statement inside $(...), quotes inside
// ${...} or arithmetic). Getting the context wrong would let a value out
// of its quotes, so "cannot tell" is an error, never a guess.
func scanShell(s string, refs []ref) ([]shellRef, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	at := make(map[int]int, len(refs))
	for i, r := range refs {
		at[r.start] = i
	}
	// refAfter reports the first reference at or after position i, for
	// the error once the lexer has lost certainty.
	refAfter := func(i int) (ref, bool) {
		for _, r := range refs {
			if r.start >= i {
				return r, true
			}
		}
		return ref{}, false
	}
	unsure := func(i int, why string) error {
		if r, ok := refAfter(i); ok {
			return fmt.Errorf("{{ %s }} comes after %s; Tether cannot tell how the shell quotes what follows, so it cannot quote the value safely", r.name, why)
		}
		return errStop
	}
	refused := func(r ref, where string) error {
		return fmt.Errorf("{{ %s }} is %s, where quoting cannot keep a value literal", r.name, where)
	}

	var out []shellRef
	stack := []frame{{kind: frameTop}}
	// A # begins a comment only at the start of a word, and what came
	// just before it decides that: wordEnd is where an expansion that is
	// part of a word ended, fuzzy where shells may disagree.
	wordEnd, fuzzy := -1, -1
	n := len(s)
	for i := 0; i < n; {
		top := &stack[len(stack)-1]
		if k, ok := at[i]; ok {
			r := refs[k]
			switch top.kind {
			case frameTop, frameSubst:
				out = append(out, shellRef{r, unquoted})
			case frameDouble:
				out = append(out, shellRef{r, inDouble})
			case frameSingle:
				out = append(out, shellRef{r, inSingle})
			case frameBacktick:
				return nil, refused(r, "inside `...`")
			case frameBrace:
				return nil, refused(r, "inside ${...}")
			case frameArith:
				return nil, refused(r, "inside an arithmetic expression")
			case frameComment:
				return nil, refused(r, "inside a comment")
			}
			i = r.end
			continue
		}
		c := s[i]
		var next byte
		if i+1 < n {
			next = s[i+1]
		}
		_, refNext := at[i+1]
		switch top.kind {
		case frameTop, frameSubst:
			switch {
			case c == '\\':
				if refNext {
					return nil, refused(refs[at[i+1]], "directly after a backslash")
				}
				if next == '\n' {
					fuzzy = i + 1 // a continued line joins words
				}
				i += 2
				continue
			case c == '\'':
				stack = append(stack, frame{kind: frameSingle})
			case c == '"':
				stack = append(stack, frame{kind: frameDouble})
			case c == '`':
				stack = append(stack, frame{kind: frameBacktick})
			case c == '$':
				if refNext {
					return nil, refused(refs[at[i+1]], "directly after a $")
				}
				if next == '\'' {
					// $'...' is ANSI-C quoting in bash and POSIX 2024 but
					// a $ and a single quote to older shells.
					return stopAt(refs, out, unsure(i, "$'...'"))
				}
				if adv, push, ok := dollar(s, i); ok {
					stack = append(stack, push)
					i += adv
					continue
				}
			case c == '#':
				comment, sure := commentAt(s, i, wordEnd, fuzzy)
				if !sure {
					return stopAt(refs, out, unsure(i, "a # that shells may or may not read as a comment"))
				}
				if comment {
					stack = append(stack, frame{kind: frameComment})
				}
			case c == '<' && next == '<':
				return stopAt(refs, out, unsure(i, "a here-document"))
			case c == '(' && next == '(':
				// (( ... )) is arithmetic in bash, which expands the
				// inside as if double-quoted.
				stack = append(stack, frame{kind: frameArith, depth: 2, open: '(', cmd: true})
				i += 2
				continue
			case c == '(' && top.kind == frameSubst:
				top.depth++
			case c == ')' && top.kind == frameSubst:
				top.depth--
				if top.depth == 0 {
					stack = stack[:len(stack)-1]
					wordEnd = i
				}
			case c == 'c' && top.kind == frameSubst && isCase(s, i):
				// case patterns end in an unbalanced ), which would close
				// $( early for a lexer that counts parentheses.
				return stopAt(refs, out, unsure(i, "a case statement inside $(...)"))
			}
		case frameDouble:
			switch c {
			case '\\':
				if refNext {
					return nil, refused(refs[at[i+1]], "directly after a backslash")
				}
				if strings.IndexByte("$`\"\\\n", next) >= 0 {
					i += 2
					continue
				}
			case '"':
				stack = stack[:len(stack)-1]
			case '`':
				stack = append(stack, frame{kind: frameBacktick})
			case '$':
				if refNext {
					return nil, refused(refs[at[i+1]], "directly after a $")
				}
				if adv, push, ok := dollar(s, i); ok {
					stack = append(stack, push)
					i += adv
					continue
				}
			}
		case frameSingle:
			if c == '\'' {
				stack = stack[:len(stack)-1]
			}
		case frameBacktick:
			switch c {
			case '\\':
				if strings.IndexByte("$`\\", next) >= 0 {
					i += 2
					continue
				}
			case '\'':
				top.singles++
			case '"':
				top.doubles++
			case '`':
				odd := top.singles%2 == 1 || top.doubles%2 == 1
				stack = stack[:len(stack)-1]
				if odd {
					return stopAt(refs, out, unsure(i, "`...` with an unbalanced quote inside"))
				}
			}
		case frameBrace:
			switch {
			case c == '}':
				top.depth--
				if top.depth == 0 {
					stack = stack[:len(stack)-1]
				}
			case c == '$' && next == '{':
				if refNext {
					return nil, refused(refs[at[i+1]], "directly after a $")
				}
				top.depth++
				i += 2
				continue
			case strings.IndexByte("'\"`\\", c) >= 0, c == '$' && strings.IndexByte("('[", next) >= 0:
				return stopAt(refs, out, unsure(i, "quoting or expansion inside ${...}"))
			}
		case frameArith:
			closeCh := byte(')')
			if top.open == '[' {
				closeCh = ']'
			}
			switch {
			case c == top.open:
				top.depth++
			case c == closeCh:
				top.depth--
				if top.depth == 0 {
					if top.cmd {
						fuzzy = i
					} else {
						wordEnd = i
					}
					stack = stack[:len(stack)-1]
				}
			case strings.IndexByte("'\"`\\", c) >= 0, c == '$' && strings.IndexByte("({['", next) >= 0:
				return stopAt(refs, out, unsure(i, "quoting or expansion inside an arithmetic expression"))
			}
		case frameComment:
			if c == '\n' {
				stack = stack[:len(stack)-1]
			}
		}
		i++
	}
	if top := stack[len(stack)-1]; len(stack) > 1 && top.kind != frameComment {
		return nil, fmt.Errorf("unterminated %s", frameName(top.kind))
	}
	return out, placed(refs, out)
}

// placed checks that the lexer classified every reference; one it stepped
// over would stay in the command as literal text.
func placed(refs []ref, out []shellRef) error {
	for i, r := range refs {
		if i >= len(out) || out[i].start != r.start {
			return fmt.Errorf("{{ %s }} is where the lexer cannot place it", r.name)
		}
	}
	return nil
}

// errStop ends a scan early when the lexer loses certainty after the last
// reference: nothing that follows needs quoting.
var errStop = errors.New("stop")

// stopAt ends a scan that lost certainty: err is the refusal of a later
// reference, or errStop when there is none and every reference is placed.
func stopAt(refs []ref, out []shellRef, err error) ([]shellRef, error) {
	if err != errStop {
		return nil, err
	}
	if err := placed(refs, out); err != nil {
		return nil, err
	}
	return out, nil
}

// dollar recognises the expansions that open a frame at s[i] == '$'.
func dollar(s string, i int) (advance int, push frame, ok bool) {
	rest := s[i+1:]
	switch {
	case strings.HasPrefix(rest, "(("):
		return 3, frame{kind: frameArith, depth: 2, open: '('}, true
	case strings.HasPrefix(rest, "("):
		return 2, frame{kind: frameSubst, depth: 1}, true
	case strings.HasPrefix(rest, "{"):
		return 2, frame{kind: frameBrace, depth: 1}, true
	case strings.HasPrefix(rest, "["):
		// $[ ... ] is bash's old arithmetic expansion.
		return 2, frame{kind: frameArith, depth: 1, open: '['}, true
	}
	return 0, frame{}, false
}

// commentAt reports whether the # at s[i] starts a comment, and whether
// every shell would agree: after a redirection operator, a continued line
// or (( ... )) they may not.
func commentAt(s string, i, wordEnd, fuzzy int) (comment, sure bool) {
	switch {
	case i == 0:
		return true, true
	case i-1 == fuzzy:
		return false, false
	case i-1 == wordEnd:
		return false, true // $( ... )# and $(( ... ))# continue a word
	}
	switch s[i-1] {
	case ' ', '\t', '\n', ';', '&', '|', '(', ')':
		return true, true
	case '<', '>':
		return false, false
	}
	return false, true
}

// isCase reports whether the word case starts at s[i]. Anything but a
// name character before it counts as a word boundary: taking a case for
// one by mistake only makes the lexer give up, while missing one would
// not.
func isCase(s string, i int) bool {
	if i > 0 {
		p := s[i-1]
		if p == '_' || p >= '0' && p <= '9' || p >= 'a' && p <= 'z' || p >= 'A' && p <= 'Z' {
			return false
		}
	}
	rest := s[i:]
	return len(rest) > 4 && rest[:4] == "case" && strings.IndexByte(" \t\n", rest[4]) >= 0
}

func frameName(k frameKind) string {
	switch k {
	case frameSubst:
		return "$( ... )"
	case frameDouble:
		return `double quote (")`
	case frameSingle:
		return "single quote (')"
	case frameBacktick:
		return "backtick (`)"
	case frameBrace:
		return "${ ... }"
	case frameArith:
		return "arithmetic expression"
	}
	return "construct"
}
