package document

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Parameter types, as AWS spells them.
const (
	TypeString     = "String"
	TypeStringList = "StringList"
	TypeInteger    = "Integer"
	TypeBoolean    = "Boolean"
	TypeStringMap  = "StringMap"
	TypeMapList    = "MapList"
)

var paramTypes = []string{TypeString, TypeStringList, TypeInteger, TypeBoolean, TypeStringMap, TypeMapList}

var paramKeys = []string{"type", "description", "default", "allowedValues", "allowedPattern", "displayType", "minChars", "maxChars", "minItems", "maxItems"}

var paramName = regexp.MustCompile(`^[a-zA-Z0-9_]{1,128}$`)

// Parameter is one declared parameter of a document.
type Parameter struct {
	Type        string // one of the Type constants
	Description string
	// Default is nil when the parameter has none (it is then required).
	// Otherwise its Go type follows Type: string (String), []string
	// (StringList), int64 (Integer), bool (Boolean), map[string]any
	// (StringMap) or []any of map[string]any (MapList), the maps holding
	// what encoding/json would decode.
	Default        any
	AllowedValues  []string
	AllowedPattern string // as written; a value must match all of it
	DisplayType    string // "textarea" or "textfield", a console hint
	// Length limits; 0 means no limit. MinChars and MaxChars count
	// characters (not bytes) of a String value and of each StringList
	// element; MinItems and MaxItems count StringList and MapList items.
	MinChars, MaxChars, MinItems, MaxItems int
}

// paramSpec is what Parse prepares to check values of one parameter.
type paramSpec struct {
	Parameter
	pattern    *regexp.Regexp // AllowedPattern anchored at both ends
	hasDefault bool
	flatDef    string // the default, flattened as ResolveParameters would
}

func parseParameter(name string, n *node) (Parameter, *paramSpec, error) {
	var p Parameter
	if !paramName.MatchString(name) {
		return p, nil, invalidf("parameters: name %s must match %s", quote(name), paramName)
	}
	path := "parameters." + name
	if n.kind != kindObject {
		return p, nil, invalidf("%s: must be an object, not %s", path, n.what())
	}
	for _, k := range n.keys {
		if !slices.Contains(paramKeys, k) {
			return p, nil, invalidf("%s.%s: unknown key; a parameter has %s", path, k, list(paramKeys))
		}
	}

	t := n.get("type")
	if t == nil {
		return p, nil, invalidf("%s.type: required; one of %s", path, strings.Join(paramTypes, ", "))
	}
	if t.kind == kindString {
		// AWS's own schema page writes "type": "string" in its Port
		// example, so the type is matched without regard to case.
		for _, pt := range paramTypes {
			if strings.EqualFold(t.str, pt) {
				p.Type = pt
			}
		}
	}
	if p.Type == "" {
		return p, nil, invalidf("%s.type %s: must be one of %s", path, show(t), strings.Join(paramTypes, ", "))
	}

	var err error
	if v := n.get("description"); v != nil {
		if p.Description, err = str(v, path+".description"); err != nil {
			return p, nil, err
		}
	}
	if v := n.get("displayType"); v != nil {
		if v.kind != kindString || (v.str != "textarea" && v.str != "textfield") {
			return p, nil, invalidf("%s.displayType %s: must be textarea or textfield", path, show(v))
		}
		p.DisplayType = v.str
	}
	if v := n.get("allowedValues"); v != nil {
		if v.kind != kindArray || len(v.elems) == 0 {
			return p, nil, invalidf("%s.allowedValues: must be a non-empty list of strings", path)
		}
		for i, e := range v.elems {
			s, ok := e.scalarText()
			if !ok {
				return p, nil, invalidf("%s.allowedValues[%d]: must be a string, not %s", path, i, e.what())
			}
			p.AllowedValues = append(p.AllowedValues, s)
		}
	}
	spec := &paramSpec{}
	if v := n.get("allowedPattern"); v != nil {
		if p.AllowedPattern, err = str(v, path+".allowedPattern"); err != nil {
			return p, nil, err
		}
		if p.AllowedPattern != "" {
			// (?:...) keeps an alternation inside the anchors: a value
			// must match the whole pattern, not one branch of it.
			re, err := regexp.Compile(`^(?:` + p.AllowedPattern + `)$`)
			if err != nil {
				return p, nil, invalidf("%s.allowedPattern: not a regular expression Tether supports (Go RE2 syntax; no lookaround or backreferences): %s", path, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			}
			spec.pattern = re
		}
	}
	limits := []struct {
		key   string
		dst   *int
		types []string
	}{
		{"minChars", &p.MinChars, []string{TypeString, TypeStringList}},
		{"maxChars", &p.MaxChars, []string{TypeString, TypeStringList}},
		{"minItems", &p.MinItems, []string{TypeStringList, TypeMapList}},
		{"maxItems", &p.MaxItems, []string{TypeStringList, TypeMapList}},
	}
	for _, l := range limits {
		v := n.get(l.key)
		if v == nil {
			continue
		}
		if !slices.Contains(l.types, p.Type) {
			return p, nil, invalidf("%s.%s: applies only to %s parameters, and this one is %s", path, l.key, strings.Join(l.types, " and "), p.Type)
		}
		x, err := strconv.Atoi(v.str)
		if v.kind != kindNumber || err != nil || x < 0 || !digits(v.str) {
			return p, nil, invalidf("%s.%s %s: must be a whole number, 0 or more", path, l.key, show(v))
		}
		*l.dst = x
	}
	if p.MaxChars > 0 && p.MinChars > p.MaxChars {
		return p, nil, invalidf("%s: minChars %d is more than maxChars %d", path, p.MinChars, p.MaxChars)
	}
	if p.MaxItems > 0 && p.MinItems > p.MaxItems {
		return p, nil, invalidf("%s: minItems %d is more than maxItems %d", path, p.MinItems, p.MaxItems)
	}
	if p.Type == TypeInteger || p.Type == TypeBoolean {
		for _, av := range p.AllowedValues {
			if _, msg := scalarOfType(p.Type, av); msg != "" {
				return p, nil, invalidf("%s.allowedValues: %s", path, msg)
			}
		}
	}
	spec.Parameter = p

	if v := n.get("default"); v != nil {
		vals, def, msg := defaultValues(p.Type, v)
		if msg != "" {
			return p, nil, invalidf("%s.default: %s", path, msg)
		}
		flat, msg := spec.check(vals)
		if msg != "" {
			return p, nil, invalidf("%s.default: %s", path, msg)
		}
		p.Default = def
		spec.Parameter.Default = def
		spec.hasDefault = true
		spec.flatDef = flat
	}
	return p, spec, nil
}

// defaultValues turns a written default into the values a request would
// carry for it, and into the Go value Parameter.Default documents.
func defaultValues(typ string, n *node) (vals []string, def any, msg string) {
	if n.kind == kindNull {
		return nil, nil, "must not be null; leave default out to make the parameter required"
	}
	switch typ {
	case TypeString:
		// A YAML author may write default: 22 for a String; the text is
		// what they meant.
		s, ok := n.scalarText()
		if !ok {
			return nil, nil, fmt.Sprintf("must be a string, not %s", n.what())
		}
		return []string{s}, s, ""
	case TypeStringList:
		if s, ok := n.scalarText(); ok {
			return []string{s}, []string{s}, ""
		}
		if n.kind != kindArray {
			return nil, nil, fmt.Sprintf("must be a list of strings, not %s", n.what())
		}
		list := make([]string, 0, len(n.elems))
		for i, e := range n.elems {
			s, ok := e.scalarText()
			if !ok {
				return nil, nil, fmt.Sprintf("element %d must be a string, not %s", i, e.what())
			}
			list = append(list, s)
		}
		return list, list, ""
	case TypeInteger:
		s, ok := n.scalarText()
		if !ok || n.kind == kindBool {
			return nil, nil, fmt.Sprintf("must be an integer, not %s", n.what())
		}
		v, msg := scalarOfType(typ, s)
		return []string{s}, v, msg
	case TypeBoolean:
		s, ok := n.scalarText()
		if !ok || n.kind == kindNumber {
			return nil, nil, fmt.Sprintf("must be true or false, not %s", n.what())
		}
		v, msg := scalarOfType(typ, s)
		return []string{s}, v, msg
	case TypeStringMap:
		if n.kind != kindObject {
			return nil, nil, fmt.Sprintf("must be an object, not %s", n.what())
		}
		return []string{compact(n)}, goValue(n), ""
	case TypeMapList:
		if n.kind != kindArray {
			return nil, nil, fmt.Sprintf("must be a list of objects, not %s", n.what())
		}
		return []string{compact(n)}, goValue(n), ""
	}
	return nil, nil, "unknown type"
}

// scalarOfType checks one Integer or Boolean value and returns it as Go.
func scalarOfType(typ, s string) (any, string) {
	switch typ {
	case TypeInteger:
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Sprintf("value %s is not an integer", quote(s))
		}
		return v, ""
	case TypeBoolean:
		if s != "true" && s != "false" {
			return nil, fmt.Sprintf("value %s is not true or false", quote(s))
		}
		return s == "true", ""
	}
	return s, ""
}

// goValue converts a node to what encoding/json would decode it to.
func goValue(n *node) any {
	switch n.kind {
	case kindBool:
		return n.b
	case kindNumber:
		f, _ := strconv.ParseFloat(n.str, 64)
		return f
	case kindString:
		return n.str
	case kindArray:
		out := make([]any, len(n.elems))
		for i, e := range n.elems {
			out[i] = goValue(e)
		}
		return out
	case kindObject:
		out := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			out[k] = goValue(n.elems[i])
		}
		return out
	}
	return nil
}

// ResolveParameters checks the values a StartSession request gives (name →
// values, as AWS's API carries them) against the document, applies
// defaults, and returns every declared parameter flattened to one string:
//
//   - String: the value; several values are joined with newlines, as AWS
//     flattens a String given as a list, and the joined text is what the
//     constraints are checked against.
//   - StringList: each element is checked (allowedValues, allowedPattern,
//     minChars, maxChars), the count against minItems and maxItems, and the
//     elements are joined with newlines.
//   - Integer, Boolean: exactly one value, a base-10 int64 or true/false.
//   - StringMap, MapList: exactly one value holding a JSON object or a JSON
//     list of objects, returned as compact JSON.
//
// A name given with no values counts as not given. An undeclared name is an
// InvalidDocument error, as AWS's StartSession reports it; a missing
// required value or a value that breaks its definition is a
// ValidationException. Values must be valid UTF-8 without NUL bytes, and a
// value that is a Parameter Store reference ({{ssm:name}}) is refused
// rather than passed on as text.
func (d *Document) ResolveParameters(in map[string][]string) (map[string]string, error) {
	names := make([]string, 0, len(in))
	for name := range in {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if d.specs[name] == nil {
			return nil, invalidf("parameter %q: the document does not declare it", name)
		}
	}
	declared := make([]string, 0, len(d.specs))
	for name := range d.specs {
		declared = append(declared, name)
	}
	sort.Strings(declared)
	out := make(map[string]string, len(d.specs))
	for _, name := range declared {
		spec := d.specs[name]
		vals := in[name]
		if len(vals) == 0 {
			if !spec.hasDefault {
				return nil, validationf("parameter %q: required; no value was given and the document has no default", name)
			}
			out[name] = spec.flatDef
			continue
		}
		flat, msg := spec.check(vals)
		if msg != "" {
			return nil, validationf("parameter %q: %s", name, msg)
		}
		out[name] = flat
	}
	return out, nil
}

// check validates the values given for one parameter and flattens them.
// It returns a message, without the parameter's name, when they break the
// definition.
func (s *paramSpec) check(vals []string) (string, string) {
	for _, v := range vals {
		if !utf8.ValidString(v) {
			return "", "value is not valid UTF-8"
		}
		if strings.IndexByte(v, 0) >= 0 {
			return "", "value contains a NUL byte"
		}
		if ssmValue.MatchString(v) {
			return "", fmt.Sprintf("value %s refers to Parameter Store, which Tether does not support", quote(v))
		}
	}
	one := func() string {
		if len(vals) != 1 {
			return fmt.Sprintf("takes one value, not %d", len(vals))
		}
		return ""
	}
	switch s.Type {
	case TypeString:
		v := strings.Join(vals, "\n")
		return v, s.checkValue(v, true)
	case TypeStringList:
		if s.MinItems > 0 && len(vals) < s.MinItems {
			return "", fmt.Sprintf("%s; minItems is %d", items(len(vals)), s.MinItems)
		}
		if s.MaxItems > 0 && len(vals) > s.MaxItems {
			return "", fmt.Sprintf("%s; maxItems is %d", items(len(vals)), s.MaxItems)
		}
		for _, v := range vals {
			if msg := s.checkValue(v, true); msg != "" {
				return "", msg
			}
		}
		return strings.Join(vals, "\n"), ""
	case TypeInteger, TypeBoolean:
		if msg := one(); msg != "" {
			return "", msg
		}
		if _, msg := scalarOfType(s.Type, vals[0]); msg != "" {
			return "", msg
		}
		return vals[0], s.checkValue(vals[0], false)
	case TypeStringMap, TypeMapList:
		if msg := one(); msg != "" {
			return "", msg
		}
		n, err := decodeJSON([]byte(vals[0]))
		if err != nil {
			return "", fmt.Sprintf("value %s is not JSON", quote(vals[0]))
		}
		if s.Type == TypeStringMap && n.kind != kindObject {
			return "", fmt.Sprintf("value %s is not a JSON object", quote(vals[0]))
		}
		if s.Type == TypeMapList {
			if n.kind != kindArray {
				return "", fmt.Sprintf("value %s is not a JSON list of objects", quote(vals[0]))
			}
			for _, e := range n.elems {
				if e.kind != kindObject {
					return "", fmt.Sprintf("value %s is not a JSON list of objects", quote(vals[0]))
				}
			}
			if s.MinItems > 0 && len(n.elems) < s.MinItems {
				return "", fmt.Sprintf("%s; minItems is %d", items(len(n.elems)), s.MinItems)
			}
			if s.MaxItems > 0 && len(n.elems) > s.MaxItems {
				return "", fmt.Sprintf("%s; maxItems is %d", items(len(n.elems)), s.MaxItems)
			}
		}
		v := compact(n)
		return v, s.checkValue(v, false)
	}
	return "", "unknown type"
}

// checkValue applies the per-value constraints.
func (s *paramSpec) checkValue(v string, chars bool) string {
	if chars {
		n := utf8.RuneCountInString(v)
		if s.MinChars > 0 && n < s.MinChars {
			return fmt.Sprintf("value %s has %d characters; minChars is %d", quote(v), n, s.MinChars)
		}
		if s.MaxChars > 0 && n > s.MaxChars {
			return fmt.Sprintf("value %s has %d characters; maxChars is %d", quote(v), n, s.MaxChars)
		}
	}
	if len(s.AllowedValues) > 0 && !slices.Contains(s.AllowedValues, v) {
		q := make([]string, len(s.AllowedValues))
		for i, a := range s.AllowedValues {
			q[i] = quote(a)
		}
		return fmt.Sprintf("value %s is not one of the allowedValues %s", quote(v), strings.Join(q, ", "))
	}
	if s.pattern != nil && !s.pattern.MatchString(v) {
		return fmt.Sprintf("value %s does not match allowedPattern %s", quote(v), s.AllowedPattern)
	}
	return ""
}

// quote renders a value for a message: Go-quoted, so control characters
// show, and clipped.
func quote(s string) string {
	return strconv.Quote(clip(s, 80))
}

// clip shortens s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func items(n int) string {
	if n == 1 {
		return "1 item"
	}
	return strconv.Itoa(n) + " items"
}
