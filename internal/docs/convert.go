package docs

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

	"github.com/tetherhq/tether/internal/document"
)

// Conversion between the two formats a Session document is written in:
// GetDocument returns a document in the format asked for, and Lookup hands
// the session manager JSON whatever the document was written in. Both
// directions keep the order of keys. They are only used on content that
// document.Parse accepted, which rules out YAML aliases, merge keys, custom
// tags and non-finite numbers; they still fail cleanly on anything else.

// maxDepth bounds nesting, as document.Parse does.
const maxDepth = 64

var bom = []byte("\xef\xbb\xbf")

// compactJSON returns content, written in format, as compact JSON.
func compactJSON(content, format string) ([]byte, error) {
	switch format {
	case document.FormatJSON:
		var buf bytes.Buffer
		if err := json.Compact(&buf, bytes.TrimPrefix([]byte(content), bom)); err != nil {
			return nil, fmt.Errorf("convert JSON: %w", err)
		}
		return buf.Bytes(), nil
	case document.FormatYAML:
		return yamlToJSON([]byte(content))
	}
	return nil, fmt.Errorf("convert: unknown format %q", format)
}

// toJSON returns content, written in format, as indented JSON.
func toJSON(content, format string) (string, error) {
	compact, err := compactJSON(content, format)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return "", fmt.Errorf("convert to JSON: %w", err)
	}
	return out.String(), nil
}

// convert returns content, written in from, in the format to.
func convert(content, from, to string) (string, error) {
	switch {
	case from == to:
		return content, nil
	case to == document.FormatJSON:
		return toJSON(content, from)
	case to == document.FormatYAML && from == document.FormatJSON:
		return jsonToYAML([]byte(content))
	}
	return "", fmt.Errorf("convert: %s to %s is not supported", from, to)
}

// yamlToJSON returns the single YAML document in data as compact JSON.
func yamlToJSON(data []byte) (out []byte, err error) {
	// yaml.v3 has panicked on malformed input before.
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, errors.New("convert YAML: the content cannot be parsed")
		}
	}()
	var doc yaml.Node
	if err := yaml.Unmarshal(bytes.TrimPrefix(data, bom), &doc); err != nil {
		return nil, fmt.Errorf("convert YAML: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errors.New("convert YAML: not one document")
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, doc.Content[0], 0); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// writeJSON writes y as compact JSON, reading scalars the way
// document.Parse does.
func writeJSON(buf *bytes.Buffer, y *yaml.Node, depth int) error {
	if depth > maxDepth {
		return errors.New("convert YAML: nested too deeply")
	}
	switch y.Kind {
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				return fmt.Errorf("convert YAML: unsupported key at line %d", k.Line)
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k.Value)
			buf.WriteByte(':')
			if err := writeJSON(buf, v, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, e := range y.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, e, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		return writeScalar(buf, y)
	default:
		return fmt.Errorf("convert YAML: unsupported node at line %d", y.Line)
	}
	return nil
}

func writeScalar(buf *bytes.Buffer, y *yaml.Node) error {
	switch y.ShortTag() {
	case "!!str", "!!timestamp":
		writeString(buf, y.Value)
	case "!!null":
		buf.WriteString("null")
	case "!!bool":
		var b bool
		if err := y.Decode(&b); err != nil {
			return fmt.Errorf("convert YAML: %q at line %d is not a boolean", y.Value, y.Line)
		}
		buf.WriteString(strconv.FormatBool(b))
	case "!!int", "!!float":
		if jsonNumber.MatchString(y.Value) {
			buf.WriteString(y.Value)
			return nil
		}
		var v any
		if err := y.Decode(&v); err != nil {
			return fmt.Errorf("convert YAML: %q at line %d is not a number", y.Value, y.Line)
		}
		switch x := v.(type) {
		case int:
			buf.WriteString(strconv.Itoa(x))
		case int64:
			buf.WriteString(strconv.FormatInt(x, 10))
		case uint64:
			buf.WriteString(strconv.FormatUint(x, 10))
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("convert YAML: %q at line %d is not a finite number", y.Value, y.Line)
			}
			buf.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		default:
			return fmt.Errorf("convert YAML: %q at line %d is not a number", y.Value, y.Line)
		}
	default:
		return fmt.Errorf("convert YAML: tag %s at line %d is not supported", y.ShortTag(), y.Line)
	}
	return nil
}

// writeString writes s as a JSON string without HTML escaping, so that
// commands such as "a && b > c" stay readable.
func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)           // a string always encodes
	buf.Truncate(buf.Len() - 1) // Encode appends a newline
}

// jsonToYAML returns the JSON value in data as block-style YAML.
func jsonToYAML(data []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, bom)))
	dec.UseNumber()
	n, err := readYAMLNode(dec, 0)
	if err != nil {
		return "", err
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", errors.New("convert JSON: content after the document")
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return "", fmt.Errorf("convert to YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("convert to YAML: %w", err)
	}
	return buf.String(), nil
}

// readYAMLNode reads one JSON value from dec as a yaml.Node.
func readYAMLNode(dec *json.Decoder, depth int) (*yaml.Node, error) {
	if depth > maxDepth {
		return nil, errors.New("convert JSON: nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("convert JSON: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("convert JSON: %w", err)
				}
				k, _ := kt.(string)
				v, err := readYAMLNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, stringNode(k), v)
			}
			_, err := dec.Token() // '}'
			return n, err
		case '[':
			n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			for dec.More() {
				v, err := readYAMLNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, v)
			}
			_, err := dec.Token() // ']'
			return n, err
		}
	case string:
		return stringNode(t), nil
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(t.String(), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: t.String()}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(t)}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
	return nil, fmt.Errorf("convert JSON: unexpected %v", tok)
}

// stringNode is a YAML string; the encoder quotes it where it would
// otherwise read as another type ("22", "true"), and multi-line text is
// written as a literal block.
func stringNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if strings.Contains(s, "\n") {
		n.Style = yaml.LiteralStyle
	}
	return n
}
