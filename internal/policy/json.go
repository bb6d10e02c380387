package policy

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small JSON reader. encoding/json cannot report where a
// value starts, silently keeps the last of two duplicate keys and replaces
// invalid UTF-8, so policies are read into a tree that remembers the byte
// offset of every key and value; validation then points at the exact spot.

type jsonKind int

const (
	jsonString jsonKind = iota
	jsonNumber
	jsonBool
	jsonNull
	jsonObject
	jsonArray
)

func (k jsonKind) String() string {
	switch k {
	case jsonString:
		return "a string"
	case jsonNumber:
		return "a number"
	case jsonBool:
		return "a boolean"
	case jsonNull:
		return "null"
	case jsonObject:
		return "an object"
	default:
		return "an array"
	}
}

type jsonValue struct {
	kind    jsonKind
	off     int    // byte offset of the value's first byte
	text    string // string contents, number literal, or "true"/"false"
	members []jsonMember
	elems   []*jsonValue
}

type jsonMember struct {
	key    string
	keyOff int
	val    *jsonValue
}

// get returns the member named key, or nil.
func (v *jsonValue) get(key string) *jsonMember {
	for i := range v.members {
		if v.members[i].key == key {
			return &v.members[i]
		}
	}
	return nil
}

// maxDepth bounds recursion; a valid policy nests five levels deep at most.
const maxDepth = 32

type jsonReader struct {
	src []byte
	pos int
}

func (r *jsonReader) errf(off int, format string, args ...any) error {
	return newParseError(r.src, off, fmt.Sprintf(format, args...))
}

// readJSON parses exactly one JSON value surrounded by optional whitespace.
func readJSON(src []byte) (*jsonValue, error) {
	r := &jsonReader{src: src}
	r.skipSpace()
	if r.pos == len(src) {
		return nil, r.errf(r.pos, "empty document: expected a JSON object")
	}
	v, err := r.value(0)
	if err != nil {
		return nil, err
	}
	r.skipSpace()
	if r.pos != len(src) {
		return nil, r.errf(r.pos, "unexpected %s after the end of the policy document", r.describe())
	}
	return v, nil
}

func (r *jsonReader) skipSpace() {
	for r.pos < len(r.src) {
		switch r.src[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// describe names the byte at the current position for error messages.
func (r *jsonReader) describe() string {
	if r.pos >= len(r.src) {
		return "end of document"
	}
	c, _ := utf8.DecodeRune(r.src[r.pos:])
	if c == utf8.RuneError {
		return fmt.Sprintf("byte 0x%02x", r.src[r.pos])
	}
	return strconv.QuoteRune(c)
}

func (r *jsonReader) value(depth int) (*jsonValue, error) {
	if depth > maxDepth {
		return nil, r.errf(r.pos, "document nests deeper than %d levels", maxDepth)
	}
	if r.pos >= len(r.src) {
		return nil, r.errf(r.pos, "unexpected end of document: expected a value")
	}
	start := r.pos
	switch c := r.src[r.pos]; {
	case c == '{':
		return r.object(depth)
	case c == '[':
		return r.array(depth)
	case c == '"':
		s, err := r.str()
		if err != nil {
			return nil, err
		}
		return &jsonValue{kind: jsonString, off: start, text: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return r.number()
	case c == 't':
		return r.literal("true", jsonBool)
	case c == 'f':
		return r.literal("false", jsonBool)
	case c == 'n':
		return r.literal("null", jsonNull)
	case c == '\'':
		return nil, r.errf(r.pos, "strings must use double quotes, not single quotes")
	default:
		return nil, r.errf(r.pos, "unexpected %s: expected a value", r.describe())
	}
}

func (r *jsonReader) literal(word string, kind jsonKind) (*jsonValue, error) {
	start := r.pos
	end := start + len(word)
	if end > len(r.src) || string(r.src[start:end]) != word || (end < len(r.src) && isIdentByte(r.src[end])) {
		return nil, r.errf(start, "invalid literal: expected a value such as \"text\", a number, true, false or null")
	}
	r.pos = end
	return &jsonValue{kind: kind, off: start, text: word}, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (r *jsonReader) number() (*jsonValue, error) {
	start := r.pos
	i := r.pos
	digits := func() int {
		n := 0
		for i < len(r.src) && r.src[i] >= '0' && r.src[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if r.src[i] == '-' {
		i++
	}
	intStart := i
	if digits() == 0 {
		return nil, r.errf(start, "invalid number")
	}
	if r.src[intStart] == '0' && i-intStart > 1 {
		return nil, r.errf(start, "invalid number: leading zeros are not allowed")
	}
	if i < len(r.src) && r.src[i] == '.' {
		i++
		if digits() == 0 {
			return nil, r.errf(start, "invalid number: expected digits after the decimal point")
		}
	}
	if i < len(r.src) && (r.src[i] == 'e' || r.src[i] == 'E') {
		i++
		if i < len(r.src) && (r.src[i] == '+' || r.src[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, r.errf(start, "invalid number: expected digits in the exponent")
		}
	}
	if i < len(r.src) && isIdentByte(r.src[i]) {
		return nil, r.errf(start, "invalid number")
	}
	r.pos = i
	return &jsonValue{kind: jsonNumber, off: start, text: string(r.src[start:i])}, nil
}

// str reads a string starting at the opening quote.
func (r *jsonReader) str() (string, error) {
	start := r.pos
	r.pos++ // opening quote
	var buf []byte
	plainFrom := r.pos
	for {
		if r.pos >= len(r.src) {
			return "", r.errf(start, "unterminated string")
		}
		c := r.src[r.pos]
		switch {
		case c == '"':
			var s string
			if buf == nil {
				s = string(r.src[plainFrom:r.pos])
			} else {
				s = string(append(buf, r.src[plainFrom:r.pos]...))
			}
			r.pos++
			return s, nil
		case c == '\\':
			buf = append(buf, r.src[plainFrom:r.pos]...)
			if err := r.escape(&buf); err != nil {
				return "", err
			}
			plainFrom = r.pos
		case c < 0x20:
			if c == '\n' {
				return "", r.errf(start, "unterminated string: strings cannot span lines")
			}
			return "", r.errf(r.pos, "control character 0x%02x in string: escape it", c)
		case c < utf8.RuneSelf:
			r.pos++
		default:
			ru, n := utf8.DecodeRune(r.src[r.pos:])
			if ru == utf8.RuneError && n == 1 {
				return "", r.errf(r.pos, "invalid UTF-8 in string")
			}
			r.pos += n
		}
	}
}

func (r *jsonReader) escape(buf *[]byte) error {
	at := r.pos
	if r.pos+1 >= len(r.src) {
		return r.errf(at, "unterminated escape sequence")
	}
	c := r.src[r.pos+1]
	r.pos += 2
	switch c {
	case '"', '\\', '/':
		*buf = append(*buf, c)
	case 'b':
		*buf = append(*buf, '\b')
	case 'f':
		*buf = append(*buf, '\f')
	case 'n':
		*buf = append(*buf, '\n')
	case 'r':
		*buf = append(*buf, '\r')
	case 't':
		*buf = append(*buf, '\t')
	case 'u':
		ru, ok := r.hex4()
		if !ok {
			return r.errf(at, "invalid \\u escape: expected four hex digits")
		}
		if utf16.IsSurrogate(ru) {
			lo := rune(-1)
			if r.pos+1 < len(r.src) && r.src[r.pos] == '\\' && r.src[r.pos+1] == 'u' {
				save := r.pos
				r.pos += 2
				var ok bool
				if lo, ok = r.hex4(); !ok {
					r.pos = save
					lo = -1
				}
			}
			ru = utf16.DecodeRune(ru, lo)
			if ru == utf8.RuneError {
				return r.errf(at, "invalid \\u escape: unpaired UTF-16 surrogate")
			}
		}
		*buf = utf8.AppendRune(*buf, ru)
	default:
		return r.errf(at, "invalid escape sequence \\%c", c)
	}
	return nil
}

func (r *jsonReader) hex4() (rune, bool) {
	if r.pos+4 > len(r.src) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(r.src[r.pos:r.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	r.pos += 4
	return rune(n), true
}

func (r *jsonReader) object(depth int) (*jsonValue, error) {
	v := &jsonValue{kind: jsonObject, off: r.pos}
	r.pos++ // {
	r.skipSpace()
	if r.pos < len(r.src) && r.src[r.pos] == '}' {
		r.pos++
		return v, nil
	}
	for {
		r.skipSpace()
		if r.pos >= len(r.src) {
			return nil, r.errf(v.off, "the object opened here is not closed: missing '}'")
		}
		if r.src[r.pos] != '"' {
			if r.src[r.pos] == '}' {
				return nil, r.errf(r.pos, "trailing comma before '}'")
			}
			return nil, r.errf(r.pos, "unexpected %s: expected a key in double quotes", r.describe())
		}
		keyOff := r.pos
		key, err := r.str()
		if err != nil {
			return nil, err
		}
		for _, m := range v.members {
			if m.key == key {
				return nil, r.errf(keyOff, "duplicate key %q (first used at %s)", key, position(r.src, m.keyOff))
			}
		}
		r.skipSpace()
		if r.pos >= len(r.src) || r.src[r.pos] != ':' {
			return nil, r.errf(r.pos, "unexpected %s: expected ':' after key %q", r.describe(), key)
		}
		r.pos++
		r.skipSpace()
		val, err := r.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v.members = append(v.members, jsonMember{key: key, keyOff: keyOff, val: val})
		r.skipSpace()
		if r.pos >= len(r.src) {
			return nil, r.errf(v.off, "the object opened here is not closed: missing '}'")
		}
		switch r.src[r.pos] {
		case ',':
			r.pos++
		case '}':
			r.pos++
			return v, nil
		default:
			return nil, r.errf(r.pos, "unexpected %s: expected ',' or '}' (is a comma missing?)", r.describe())
		}
	}
}

func (r *jsonReader) array(depth int) (*jsonValue, error) {
	v := &jsonValue{kind: jsonArray, off: r.pos}
	r.pos++ // [
	r.skipSpace()
	if r.pos < len(r.src) && r.src[r.pos] == ']' {
		r.pos++
		return v, nil
	}
	for {
		r.skipSpace()
		if r.pos < len(r.src) && r.src[r.pos] == ']' {
			return nil, r.errf(r.pos, "trailing comma before ']'")
		}
		el, err := r.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v.elems = append(v.elems, el)
		r.skipSpace()
		if r.pos >= len(r.src) {
			return nil, r.errf(v.off, "the array opened here is not closed: missing ']'")
		}
		switch r.src[r.pos] {
		case ',':
			r.pos++
		case ']':
			r.pos++
			return v, nil
		default:
			return nil, r.errf(r.pos, "unexpected %s: expected ',' or ']' (is a comma missing?)", r.describe())
		}
	}
}
