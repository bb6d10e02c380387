package document

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

var (
	// refPattern is a {{ name }} reference, with any spaces inside.
	refPattern = regexp.MustCompile(`\{\{\s*([a-zA-Z0-9_]+)\s*\}\}`)
	// wholeRef is a string that is exactly one reference.
	wholeRef = regexp.MustCompile(`^\{\{\s*([a-zA-Z0-9_]+)\s*\}\}$`)
	// ssmRef is a Parameter Store reference anywhere in a string.
	ssmRef = regexp.MustCompile(`\{\{\s*ssm(-secure)?:[^}]*\}\}`)
	// ssmValue is a parameter value that is a Parameter Store reference.
	ssmValue = regexp.MustCompile(`^\s*\{\{\s*ssm(-secure)?:[^}]*\}\}\s*$`)
)

// ref is one {{ name }} in a string: s[start:end] is the whole reference.
type ref struct {
	start, end int
	name       string
}

func findRefs(s string) []ref {
	var refs []ref
	for _, m := range refPattern.FindAllStringSubmatchIndex(s, -1) {
		refs = append(refs, ref{start: m[0], end: m[1], name: s[m[2]:m[3]]})
	}
	return refs
}

// value is the flattened value of a parameter: the one given, else the
// document's default.
func (d *Document) value(params map[string]string, name string) (string, error) {
	if v, ok := params[name]; ok {
		return v, nil
	}
	if spec := d.specs[name]; spec != nil && spec.hasDefault {
		return spec.flatDef, nil
	}
	return "", validationf("parameter %q: required; no value was given and the document has no default", name)
}

// substitute replaces each reference in s with its value, in one pass: a
// value is never searched for references itself.
func (d *Document) substitute(s string, params map[string]string) (string, error) {
	refs := findRefs(s)
	if len(refs) == 0 {
		return s, nil
	}
	var b strings.Builder
	last := 0
	for _, r := range refs {
		v, err := d.value(params, r.name)
		if err != nil {
			return "", err
		}
		b.WriteString(s[last:r.start])
		b.WriteString(v)
		last = r.end
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

// Render returns the document's properties with every {{ name }} replaced
// by its value, as compact JSON with keys in the order written, or nil when
// the document has no properties. This is AWS's substitution: plain text,
// except that a JSON string that is exactly one reference becomes the value
// as a string (with flattened values the two agree). params is what
// ResolveParameters returned; a parameter missing from it takes its
// default. Render does not quote anything for a shell; see LinuxCommands.
func (d *Document) Render(params map[string]string) (json.RawMessage, error) {
	if d.props == nil {
		return nil, nil
	}
	out, err := d.renderNode(d.props, params)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	encode(&buf, out)
	return json.RawMessage(buf.Bytes()), nil
}

func (d *Document) renderNode(n *node, params map[string]string) (*node, error) {
	switch n.kind {
	case kindString:
		if m := wholeRef.FindStringSubmatch(n.str); m != nil {
			v, err := d.value(params, m[1])
			if err != nil {
				return nil, err
			}
			return &node{kind: kindString, str: v}, nil
		}
		s, err := d.substitute(n.str, params)
		if err != nil {
			return nil, err
		}
		return &node{kind: kindString, str: s}, nil
	case kindArray, kindObject:
		out := &node{kind: n.kind, keys: n.keys, elems: make([]*node, len(n.elems))}
		for i, e := range n.elems {
			c, err := d.renderNode(e, params)
			if err != nil {
				return nil, err
			}
			out.elems[i] = c
		}
		return out, nil
	}
	return n, nil
}

// LinuxCommands returns the linux block of an InteractiveCommands or
// NonInteractiveCommands document with its parameters substituted for
// POSIX sh: each value goes in single-quoted (a quote inside it closes the
// quoting, is escaped with a backslash and reopens it) and, when
// the reference sits inside double or single quotes in the document, the
// quoting around it is closed and reopened so the value is still one piece
// of literal data. See the package documentation for the one exception (a
// command that is exactly one reference) and for what quoting does not
// cover. params is what ResolveParameters returned; a parameter missing
// from it takes its default.
func (d *Document) LinuxCommands(params map[string]string) (CommandProperties, error) {
	if d.SessionType != SessionInteractiveCommands && d.SessionType != SessionNonInteractiveCommands {
		return CommandProperties{}, invalidf("sessionType %s: has no commands; only InteractiveCommands and NonInteractiveCommands documents do", d.SessionType)
	}
	if d.linux == nil {
		return CommandProperties{}, invalidf("properties.linux: the document has no commands for Linux")
	}
	cp := d.linux.props
	if d.linux.whole != "" {
		v, err := d.value(params, d.linux.whole)
		if err != nil {
			return CommandProperties{}, err
		}
		cp.Commands = v
		return cp, nil
	}
	tmpl := cp.Commands
	var b strings.Builder
	last := 0
	for _, r := range d.linux.refs {
		v, err := d.value(params, r.name)
		if err != nil {
			return CommandProperties{}, err
		}
		b.WriteString(tmpl[last:r.start])
		switch r.quoting {
		case unquoted:
			b.WriteString(shellQuote(v))
		case inDouble:
			// "...{{ v }}..." becomes "..."'v'"...": close, quote, reopen.
			b.WriteString(`"` + shellQuote(v) + `"`)
		case inSingle:
			// '...{{ v }}...' is already single-quoted; only a ' in the
			// value needs to close, escape and reopen.
			b.WriteString(strings.ReplaceAll(v, `'`, `'\''`))
		}
		last = r.end
	}
	b.WriteString(tmpl[last:])
	cp.Commands = b.String()
	return cp, nil
}

// shellQuote makes v one single-quoted POSIX sh word.
func shellQuote(v string) string {
	return `'` + strings.ReplaceAll(v, `'`, `'\''`) + `'`
}

// Port returns the properties of a Port document with parameters
// substituted (as Render does), and checks that portNumber is a port
// (1-65535) and localPortNumber, when set, is 0-65535 (0: any free port).
// params is what ResolveParameters returned; a parameter missing from it
// takes its default.
func (d *Document) Port(params map[string]string) (PortProperties, error) {
	var pp PortProperties
	if d.SessionType != SessionPort {
		return pp, invalidf("sessionType %s: has no port properties; only Port documents do", d.SessionType)
	}
	fields := map[string]*string{
		"portNumber":          &pp.PortNumber,
		"type":                &pp.Type,
		"localPortNumber":     &pp.LocalPortNumber,
		"host":                &pp.Host,
		"localUnixSocket":     &pp.LocalUnixSocket,
		"localConnectionType": &pp.LocalConnectionType,
		"destinations":        &pp.Destinations,
	}
	for i, k := range d.props.keys {
		v, err := d.substitute(d.props.elems[i].str, params)
		if err != nil {
			return PortProperties{}, err
		}
		*fields[k] = v
	}
	if pp.Destinations != "" {
		for _, d := range strings.Split(pp.Destinations, "\n") {
			port := d
			if i := strings.LastIndex(d, ":"); i >= 0 {
				port = d[i+1:]
			}
			if !isPort(port, 1) {
				return PortProperties{}, validationf("properties.destinations %q: each line must be PORT or HOST:PORT", clip(d, 80))
			}
		}
	} else if !isPort(pp.PortNumber, 1) {
		return PortProperties{}, validationf("properties.portNumber %q: must be a port number from 1 to 65535", clip(pp.PortNumber, 80))
	}
	if pp.LocalPortNumber != "" && !isPort(pp.LocalPortNumber, 0) {
		return PortProperties{}, validationf("properties.localPortNumber %q: must be a port number from 0 to 65535", clip(pp.LocalPortNumber, 80))
	}
	return pp, nil
}

func isPort(s string, lo int) bool {
	if !digits(s) || len(s) > 5 {
		return false
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= lo && n <= 65535
}
