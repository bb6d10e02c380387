package document

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxDepth bounds nesting in a document. Session documents are three or four
// levels deep; the bound keeps hostile input from recursing without limit.
const maxDepth = 64

type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// node is a decoded JSON or YAML value. Objects keep their keys in the order
// written, so Properties and Render reproduce the author's layout, and
// numbers keep their literal text.
type node struct {
	kind  kind
	str   string // kindString: the value; kindNumber: the literal
	b     bool
	keys  []string // kindObject
	elems []*node  // kindObject: values, parallel to keys; kindArray: elements
}

func (n *node) get(key string) *node {
	for i, k := range n.keys {
		if k == key {
			return n.elems[i]
		}
	}
	return nil
}

// what names the node's kind for error messages.
func (n *node) what() string {
	switch n.kind {
	case kindNull:
		return "null"
	case kindBool:
		return "a boolean"
	case kindNumber:
		return "a number"
	case kindString:
		return "a string"
	case kindArray:
		return "a list"
	}
	return "an object"
}

// scalarText is the text of a string, number or boolean, for places where AWS
// accepts any of them (allowedValues, String defaults written unquoted in YAML).
func (n *node) scalarText() (string, bool) {
	switch n.kind {
	case kindString, kindNumber:
		return n.str, true
	case kindBool:
		return strconv.FormatBool(n.b), true
	}
	return "", false
}

func decodeJSON(data []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	root, err := readJSON(dec, data, "", 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalidf("JSON: unexpected data after the document at %s", position(data, dec.InputOffset()))
	}
	return root, nil
}

func readJSON(dec *json.Decoder, data []byte, path string, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, invalidf("%s: nested deeper than %d levels", pathOrDoc(path), maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonError(err, data, dec)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: kindObject}
			seen := map[string]bool{}
			for dec.More() {
				ktok, err := dec.Token()
				if err != nil {
					return nil, jsonError(err, data, dec)
				}
				key, ok := ktok.(string)
				if !ok {
					return nil, invalidf("JSON: object key is not a string at %s", position(data, dec.InputOffset()))
				}
				kp := join(path, key)
				if seen[key] {
					return nil, invalidf("%s: duplicate key", clip(kp, 80))
				}
				seen[key] = true
				v, err := readJSON(dec, data, kp, depth+1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.elems = append(n.elems, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, jsonError(err, data, dec)
			}
			return n, nil
		case '[':
			n := &node{kind: kindArray}
			for dec.More() {
				v, err := readJSON(dec, data, fmt.Sprintf("%s[%d]", path, len(n.elems)), depth+1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, jsonError(err, data, dec)
			}
			return n, nil
		}
		return nil, invalidf("JSON: unexpected %q at %s", t, position(data, dec.InputOffset()))
	case string:
		return &node{kind: kindString, str: t}, nil
	case json.Number:
		return &node{kind: kindNumber, str: t.String()}, nil
	case bool:
		return &node{kind: kindBool, b: t}, nil
	case nil:
		return &node{kind: kindNull}, nil
	}
	return nil, invalidf("JSON: unexpected token at %s", position(data, dec.InputOffset()))
}

func jsonError(err error, data []byte, dec *json.Decoder) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		if len(bytes.TrimSpace(data)) == 0 {
			return invalidf("the document is empty")
		}
		return invalidf("JSON: unexpected end of the document")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return invalidf("JSON: %s at %s", se.Error(), position(data, se.Offset))
	}
	return invalidf("JSON: %s at %s", err.Error(), position(data, dec.InputOffset()))
}

// position renders a byte offset as "line L, column C" (both from 1).
func position(data []byte, off int64) string {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return fmt.Sprintf("line %d, column %d", line, col)
}

func decodeYAML(data []byte) (root *node, err error) {
	// yaml.v3 has panicked on malformed input before; a document is
	// untrusted, so a parser panic becomes an ordinary rejection.
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, invalidf("YAML: the document cannot be parsed")
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, invalidf("the document is empty")
		}
		return nil, invalidf("YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		if err != nil {
			return nil, invalidf("YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return nil, invalidf("YAML: more than one document in the content")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, invalidf("the document is empty")
	}
	return fromYAML(doc.Content[0], "", 0)
}

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

func fromYAML(y *yaml.Node, path string, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, invalidf("%s: nested deeper than %d levels", pathOrDoc(path), maxDepth)
	}
	switch y.Kind {
	case yaml.MappingNode:
		n := &node{kind: kindObject}
		seen := map[string]bool{}
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, invalidf("%s: YAML keys must be scalars (line %d)", pathOrDoc(path), k.Line)
			}
			if k.ShortTag() == "!!merge" {
				return nil, invalidf("%s: YAML merge keys are not supported (line %d)", pathOrDoc(path), k.Line)
			}
			kp := join(path, k.Value)
			if seen[k.Value] {
				return nil, invalidf("%s: duplicate key (line %d)", clip(kp, 80), k.Line)
			}
			seen[k.Value] = true
			c, err := fromYAML(v, kp, depth+1)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, k.Value)
			n.elems = append(n.elems, c)
		}
		return n, nil
	case yaml.SequenceNode:
		n := &node{kind: kindArray}
		for _, e := range y.Content {
			c, err := fromYAML(e, fmt.Sprintf("%s[%d]", path, len(n.elems)), depth+1)
			if err != nil {
				return nil, err
			}
			n.elems = append(n.elems, c)
		}
		return n, nil
	case yaml.ScalarNode:
		return yamlScalar(y, path)
	case yaml.AliasNode:
		return nil, invalidf("%s: YAML aliases are not supported (line %d)", pathOrDoc(path), y.Line)
	}
	return nil, invalidf("%s: unsupported YAML node (line %d)", pathOrDoc(path), y.Line)
}

func yamlScalar(y *yaml.Node, path string) (*node, error) {
	switch tag := y.ShortTag(); tag {
	case "!!str", "!!timestamp":
		return &node{kind: kindString, str: y.Value}, nil
	case "!!null":
		return &node{kind: kindNull}, nil
	case "!!bool":
		var b bool
		if err := y.Decode(&b); err != nil {
			return nil, invalidf("%s: %q is not a boolean (line %d)", pathOrDoc(path), y.Value, y.Line)
		}
		return &node{kind: kindBool, b: b}, nil
	case "!!int", "!!float":
		if jsonNumber.MatchString(y.Value) {
			return &node{kind: kindNumber, str: y.Value}, nil
		}
		var v any
		if err := y.Decode(&v); err != nil {
			return nil, invalidf("%s: %q is not a number (line %d)", pathOrDoc(path), y.Value, y.Line)
		}
		var lit string
		switch x := v.(type) {
		case int:
			lit = strconv.Itoa(x)
		case int64:
			lit = strconv.FormatInt(x, 10)
		case uint64:
			lit = strconv.FormatUint(x, 10)
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, invalidf("%s: %q is not a finite number (line %d)", pathOrDoc(path), y.Value, y.Line)
			}
			lit = strconv.FormatFloat(x, 'g', -1, 64)
		default:
			return nil, invalidf("%s: %q is not a number (line %d)", pathOrDoc(path), y.Value, y.Line)
		}
		return &node{kind: kindNumber, str: lit}, nil
	default:
		return nil, invalidf("%s: YAML tag %s is not supported (line %d)", pathOrDoc(path), y.Tag, y.Line)
	}
}

// encode writes n as compact JSON, keys in the order written.
func encode(buf *bytes.Buffer, n *node) {
	switch n.kind {
	case kindNull:
		buf.WriteString("null")
	case kindBool:
		buf.WriteString(strconv.FormatBool(n.b))
	case kindNumber:
		buf.WriteString(n.str)
	case kindString:
		encodeString(buf, n.str)
	case kindArray:
		buf.WriteByte('[')
		for i, e := range n.elems {
			if i > 0 {
				buf.WriteByte(',')
			}
			encode(buf, e)
		}
		buf.WriteByte(']')
	case kindObject:
		buf.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			encodeString(buf, k)
			buf.WriteByte(':')
			encode(buf, n.elems[i])
		}
		buf.WriteByte('}')
	}
}

// encodeString writes s as a JSON string without HTML escaping, so that
// commands such as "a && b > c" stay readable.
func encodeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)           // a string always encodes
	buf.Truncate(buf.Len() - 1) // Encode appends a newline
}

func compact(n *node) string {
	var buf bytes.Buffer
	encode(&buf, n)
	return buf.String()
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func pathOrDoc(path string) string {
	if path == "" {
		return "document"
	}
	return clip(path, 80)
}
