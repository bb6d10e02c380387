package policy

import (
	"fmt"
	"strings"
)

// template is a string from a policy that may contain policy variables
// (IAM page "IAM policy elements: Variables and tags"). Variables are only
// recognised in Version 2012-10-17 documents; in 2008-10-17 documents the
// text is literal, wildcards included.
type template struct {
	raw   string
	parts []tpart // nil when raw holds no variables
	glob  string  // escaped glob of raw when parts is nil
}

type tpartKind uint8

const (
	partText    tpartKind = iota // policy text; its '*' and '?' are wildcards
	partLiteral                  // ${*}, ${?} or ${$}: a literal character
	partVar                      // ${key} or ${key, 'default'}
)

type tpart struct {
	kind   tpartKind
	text   string // partText and partLiteral
	key    string // partVar, lowercased
	def    string
	hasDef bool
}

func literalTemplate(s string) template {
	return template{raw: s, glob: escapeBackslashes(s)}
}

// hasVars reports whether resolving t needs the request context.
func (t *template) hasVars() bool { return t.parts != nil }

// parseTemplate splits s into text and variables. It returns a message
// describing a malformed variable.
func parseTemplate(s string, expand bool) (template, string) {
	if !expand || !strings.Contains(s, "${") {
		return literalTemplate(s), ""
	}
	t := template{raw: s}
	text := func(x string) {
		if x != "" {
			t.parts = append(t.parts, tpart{kind: partText, text: x})
		}
	}
	rest := s
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			text(rest)
			return t, ""
		}
		text(rest[:i])
		p, n, msg := parseVariable(rest[i:])
		if msg != "" {
			return template{}, msg
		}
		t.parts = append(t.parts, p)
		rest = rest[i+n:]
	}
}

// parseVariable reads one variable at the start of s ("${..."), returning it
// and the number of bytes it spans.
func parseVariable(s string) (tpart, int, string) {
	i := 2
	for i < len(s) && s[i] != '}' && s[i] != ',' && s[i] != '\'' {
		i++
	}
	if i == len(s) || s[i] == '\'' {
		return tpart{}, 0, fmt.Sprintf("policy variable %q is not closed with '}'", s)
	}
	key := strings.TrimSpace(s[2:i])
	switch key {
	case "*", "?", "$":
		if s[i] != '}' {
			return tpart{}, 0, fmt.Sprintf("${%s} takes no default value", key)
		}
		return tpart{kind: partLiteral, text: key}, i + 1, ""
	case "":
		return tpart{}, 0, "empty policy variable: write ${service:key}, e.g. ${aws:username}"
	}
	if !strings.Contains(key, ":") || strings.ContainsAny(key, "${") {
		return tpart{}, 0, fmt.Sprintf("policy variable ${%s} does not name a condition key such as ${aws:username}", key)
	}
	p := tpart{kind: partVar, key: strings.ToLower(key)}
	if s[i] == '}' {
		return p, i + 1, ""
	}
	// Default value: ${key, 'text'}; '' stands for one quote.
	i++ // ','
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i == len(s) || s[i] != '\'' {
		return tpart{}, 0, fmt.Sprintf("policy variable ${%s, ...}: the default value must be in single quotes, e.g. ${%s, 'default'}", key, key)
	}
	i++
	var def strings.Builder
	for {
		if i == len(s) {
			return tpart{}, 0, fmt.Sprintf("policy variable ${%s, ...}: the default value's closing quote is missing", key)
		}
		if s[i] == '\'' {
			if i+1 < len(s) && s[i+1] == '\'' {
				def.WriteByte('\'')
				i += 2
				continue
			}
			i++
			break
		}
		def.WriteByte(s[i])
		i++
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i == len(s) || s[i] != '}' {
		return tpart{}, 0, fmt.Sprintf("policy variable ${%s, ...} is not closed with '}' after its default value", key)
	}
	p.def, p.hasDef = def.String(), true
	return p, i + 1, ""
}

// resolve substitutes the template's variables from ctx. With asGlob the
// result is an escaped glob in which only the policy's own text carries
// wildcards; otherwise it is the plain text. ok is false when a variable
// has no value and no default: the IAM variables page says such a variable
// "causes the statement to be invalid", so callers treat the string as one
// that matches nothing.
func (t *template) resolve(ctx *evalContext, asGlob bool) (string, bool) {
	if t.parts == nil {
		if asGlob {
			return t.glob, true
		}
		return t.raw, true
	}
	var b strings.Builder
	for _, p := range t.parts {
		var lit string
		switch p.kind {
		case partText:
			if asGlob {
				b.WriteString(escapeBackslashes(p.text))
			} else {
				b.WriteString(p.text)
			}
			continue
		case partLiteral:
			lit = p.text
		case partVar:
			// A multivalued key cannot be a policy variable (IAM page
			// "Single-valued vs. multivalued context keys").
			if vals := ctx.get(p.key); len(vals) == 1 {
				lit = vals[0]
			} else if p.hasDef {
				lit = p.def
			} else {
				return "", false
			}
		}
		if asGlob {
			b.WriteString(escapeGlob(lit))
		} else {
			b.WriteString(lit)
		}
	}
	return b.String(), true
}
