package policy

import (
	"fmt"
	"strings"
)

// Parse parses and validates a policy document. Every error is a
// *ParseError that says where the mistake is and what to do about it.
func Parse(doc []byte) (*Document, error) {
	if len(doc) > MaxDocumentSize {
		return nil, newParseError(doc, MaxDocumentSize,
			fmt.Sprintf("policy document is %d bytes, more than the limit of %d", len(doc), MaxDocumentSize))
	}
	root, err := readJSON(doc)
	if err != nil {
		return nil, err
	}
	p := &parser{src: doc}
	d, perr := p.document(root)
	if perr != nil {
		return nil, perr
	}
	return d, nil
}

type parser struct {
	src    []byte
	expand bool // Version 2012-10-17: policy variables are substituted
}

func (p *parser) errf(off int, format string, args ...any) *ParseError {
	return newParseError(p.src, off, fmt.Sprintf(format, args...))
}

// unknownKey explains a key that is not one of known, suggesting the right
// spelling when only the case differs.
func (p *parser) unknownKey(m *jsonMember, where string, known []string) *ParseError {
	for _, k := range known {
		if strings.EqualFold(k, m.key) {
			return p.errf(m.keyOff, "unknown %s element %q: element names are case-sensitive, did you mean %q?", where, m.key, k)
		}
	}
	return p.errf(m.keyOff, "unknown %s element %q: expected one of %s", where, m.key, strings.Join(known, ", "))
}

var (
	topLevelKeys  = []string{"Version", "Id", "Statement"}
	statementKeys = []string{"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)

func (p *parser) document(root *jsonValue) (*Document, *ParseError) {
	if root.kind != jsonObject {
		return nil, p.errf(root.off, "a policy document must be a JSON object {...}, not %s", root.kind)
	}
	d := &Document{Version: Version2008}
	var stmts *jsonMember
	for i := range root.members {
		m := &root.members[i]
		switch m.key {
		case "Version":
			if m.val.kind != jsonString {
				return nil, p.errf(m.val.off, "Version must be a string such as %q, not %s", Version2012, m.val.kind)
			}
			if m.val.text != Version2012 && m.val.text != Version2008 {
				return nil, p.errf(m.val.off, "unsupported Version %q: use %q", m.val.text, Version2012)
			}
			d.Version = m.val.text
		case "Id":
			if m.val.kind != jsonString {
				return nil, p.errf(m.val.off, "Id must be a string, not %s", m.val.kind)
			}
			d.ID = m.val.text
		case "Statement":
			stmts = m
		default:
			return nil, p.unknownKey(m, "top-level", topLevelKeys)
		}
	}
	p.expand = d.Version == Version2012
	if stmts == nil {
		return nil, p.errf(root.off, `policy has no "Statement" element`)
	}
	var list []*jsonValue
	switch stmts.val.kind {
	case jsonObject:
		list = []*jsonValue{stmts.val}
	case jsonArray:
		if len(stmts.val.elems) == 0 {
			return nil, p.errf(stmts.val.off, "Statement is an empty array: a policy needs at least one statement")
		}
		list = stmts.val.elems
	default:
		return nil, p.errf(stmts.val.off, "Statement must be an object or an array of objects, not %s", stmts.val.kind)
	}
	sids := map[string]int{}
	for i, sv := range list {
		st, err := p.statement(sv, i)
		if err != nil {
			return nil, err
		}
		if st.Sid != "" {
			if prev, dup := sids[st.Sid]; dup {
				return nil, p.errf(sv.get("Sid").val.off, "duplicate Sid %q: statement %d already uses it", st.Sid, prev)
			}
			sids[st.Sid] = i
		}
		d.Statements = append(d.Statements, st)
	}
	return d, nil
}

func (p *parser) statement(v *jsonValue, index int) (Statement, *ParseError) {
	st := Statement{Index: index}
	if v.kind != jsonObject {
		return st, p.errf(v.off, "each statement must be an object {...}, not %s", v.kind)
	}
	var action, notAction, resource, notResource, cond *jsonMember
	for i := range v.members {
		m := &v.members[i]
		switch m.key {
		case "Sid":
			if m.val.kind != jsonString {
				return st, p.errf(m.val.off, "Sid must be a string, not %s", m.val.kind)
			}
			for _, r := range m.val.text {
				if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
					return st, p.errf(m.val.off, "Sid %q may contain only letters A-Z, a-z and digits 0-9", m.val.text)
				}
			}
			st.Sid = m.val.text
		case "Effect":
			if m.val.kind != jsonString || (m.val.text != "Allow" && m.val.text != "Deny") {
				got := m.val.kind.String()
				if m.val.kind == jsonString {
					got = fmt.Sprintf("%q", m.val.text)
				}
				return st, p.errf(m.val.off, `Effect must be "Allow" or "Deny", not %s`, got)
			}
			st.Effect = Effect(m.val.text)
		case "Action":
			action = m
		case "NotAction":
			notAction = m
		case "Resource":
			resource = m
		case "NotResource":
			notResource = m
		case "Condition":
			cond = m
		case "Principal", "NotPrincipal":
			return st, p.errf(m.keyOff, "%q is not allowed in an identity-based policy: the policy applies to the user, group or role it is attached to", m.key)
		default:
			return st, p.unknownKey(m, "statement", statementKeys)
		}
	}
	if st.Effect == "" {
		return st, p.errf(v.off, `statement %d has no "Effect": add "Effect": "Allow" or "Effect": "Deny"`, index)
	}

	am, err := p.oneOf(v, index, action, notAction, "Action", "NotAction", `"Action": "ssm:StartSession"`)
	if err != nil {
		return st, err
	}
	acts, offs, err := p.stringList(am.val, am.key)
	if err != nil {
		return st, err
	}
	for i, a := range acts {
		if msg := checkAction(a); msg != "" {
			return st, p.errf(offs[i], "%s", msg)
		}
		st.actions = append(st.actions, strings.ToLower(a))
	}
	if am == action {
		st.Action = acts
	} else {
		st.NotAction = acts
	}

	rm, err := p.oneOf(v, index, resource, notResource, "Resource", "NotResource", `"Resource": "*"`)
	if err != nil {
		return st, err
	}
	ress, offs, err := p.stringList(rm.val, rm.key)
	if err != nil {
		return st, err
	}
	for i, r := range ress {
		t, msg := p.resource(r)
		if msg != "" {
			return st, p.errf(offs[i], "%s", msg)
		}
		st.resources = append(st.resources, t)
	}
	if rm == resource {
		st.Resource = ress
	} else {
		st.NotResource = ress
	}

	if cond != nil {
		if st.Conditions, err = p.conditions(cond.val); err != nil {
			return st, err
		}
	}
	return st, nil
}

// oneOf returns whichever of a and notA is present, failing unless exactly
// one is.
func (p *parser) oneOf(stmt *jsonValue, index int, a, notA *jsonMember, aName, notName, example string) (*jsonMember, *ParseError) {
	switch {
	case a != nil && notA != nil:
		second := notA
		if notA.keyOff < a.keyOff {
			second = a
		}
		return nil, p.errf(second.keyOff, "statement has both %q and %q: use only one", aName, notName)
	case a != nil:
		return a, nil
	case notA != nil:
		return notA, nil
	}
	return nil, p.errf(stmt.off, "statement %d has neither %q nor %q: add one, e.g. %s", index, aName, notName, example)
}

// stringList reads a string or a non-empty array of strings.
func (p *parser) stringList(v *jsonValue, name string) ([]string, []int, *ParseError) {
	switch v.kind {
	case jsonString:
		return []string{v.text}, []int{v.off}, nil
	case jsonArray:
		if len(v.elems) == 0 {
			return nil, nil, p.errf(v.off, "%s is an empty array: list at least one", name)
		}
		out := make([]string, 0, len(v.elems))
		offs := make([]int, 0, len(v.elems))
		for _, e := range v.elems {
			if e.kind != jsonString {
				return nil, nil, p.errf(e.off, "%s entries must be strings, not %s", name, e.kind)
			}
			out = append(out, e.text)
			offs = append(offs, e.off)
		}
		return out, offs, nil
	}
	return nil, nil, p.errf(v.off, "%s must be a string or an array of strings, not %s", name, v.kind)
}

// checkAction accepts "*" or "service:Action", either part with wildcards.
func checkAction(a string) string {
	if a == "*" {
		return ""
	}
	svc, name, ok := strings.Cut(a, ":")
	if !ok || svc == "" || name == "" || strings.Contains(name, ":") {
		return fmt.Sprintf(`action %q must be "*" or "service:Action", e.g. "ssm:StartSession"`, a)
	}
	for _, r := range svc {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '*' || r == '?') {
			return fmt.Sprintf("action %q: the service prefix %q may contain only letters, digits, '-' and wildcards", a, svc)
		}
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '*' || r == '?') {
			return fmt.Sprintf("action %q: the action name %q may contain only letters, digits, '-', '_' and wildcards", a, name)
		}
	}
	return ""
}

// resource checks one Resource or NotResource entry and compiles it.
func (p *parser) resource(r string) (template, string) {
	if r == "*" {
		return literalTemplate(r), ""
	}
	parts := strings.SplitN(r, ":", arnParts)
	if len(parts) < arnParts || parts[0] != "arn" {
		return template{}, fmt.Sprintf(`resource %q must be "*" or an ARN of the form arn:partition:service:region:account:resource`, r)
	}
	switch {
	case parts[1] == "":
		return template{}, fmt.Sprintf("resource %q: the ARN's partition (e.g. aws) is empty", r)
	case parts[2] == "":
		return template{}, fmt.Sprintf("resource %q: the ARN's service (e.g. ssm) is empty", r)
	case parts[5] == "":
		return template{}, fmt.Sprintf("resource %q: the ARN's resource part is empty", r)
	}
	if !p.expand {
		return literalTemplate(r), ""
	}
	if i := strings.Index(r, "${"); i >= 0 && strings.Count(r[:i], ":") < arnParts-1 {
		return template{}, fmt.Sprintf("resource %q: policy variables may appear only in the resource part of an ARN, after the fifth colon", r)
	}
	t, msg := parseTemplate(r, true)
	if msg != "" {
		return template{}, fmt.Sprintf("resource %q: %s", r, msg)
	}
	return t, ""
}

func (p *parser) conditions(v *jsonValue) ([]Condition, *ParseError) {
	if v.kind != jsonObject {
		return nil, p.errf(v.off, `Condition must be an object such as {"StringEquals": {"aws:username": "alice"}}, not %s`, v.kind)
	}
	if len(v.members) == 0 {
		return nil, p.errf(v.off, "Condition is empty: remove it or add an operator")
	}
	var out []Condition
	for i := range v.members {
		om := &v.members[i]
		base, msg := parseOperator(om.key)
		if msg != "" {
			return nil, p.errf(om.keyOff, "%s", msg)
		}
		if om.val.kind != jsonObject {
			return nil, p.errf(om.val.off, `condition operator %q needs an object of keys and values such as {"aws:username": "alice"}, not %s`, om.key, om.val.kind)
		}
		if len(om.val.members) == 0 {
			return nil, p.errf(om.val.off, "condition operator %q has no keys", om.key)
		}
		for j := range om.val.members {
			km := &om.val.members[j]
			if msg := checkConditionKey(km.key); msg != "" {
				return nil, p.errf(km.keyOff, "%s", msg)
			}
			vals, offs, err := p.conditionValues(km.val, km.key)
			if err != nil {
				return nil, err
			}
			c := Condition{Operator: om.key, Key: km.key, Values: vals, c: base}
			c.c.key = strings.ToLower(km.key)
			for k, s := range vals {
				cv, msg := c.c.compileValue(om.key, s, p.expand)
				if msg != "" {
					return nil, p.errf(offs[k], "%s", msg)
				}
				c.c.vals = append(c.c.vals, cv)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func checkConditionKey(k string) string {
	prefix, name, ok := strings.Cut(k, ":")
	if !ok || prefix == "" || name == "" {
		return fmt.Sprintf("condition key %q must be of the form service:name, e.g. aws:SourceIp", k)
	}
	if strings.TrimSpace(k) != k {
		return fmt.Sprintf("condition key %q has leading or trailing spaces", k)
	}
	return ""
}

// conditionValues reads a string, boolean or number, or a non-empty array
// of them. Booleans and numbers keep their JSON spelling.
func (p *parser) conditionValues(v *jsonValue, key string) ([]string, []int, *ParseError) {
	scalar := func(e *jsonValue) *ParseError {
		switch e.kind {
		case jsonString, jsonBool, jsonNumber:
			return nil
		}
		return p.errf(e.off, "condition values for %q must be strings, booleans or numbers, not %s", key, e.kind)
	}
	if v.kind != jsonArray {
		if err := scalar(v); err != nil {
			return nil, nil, err
		}
		return []string{v.text}, []int{v.off}, nil
	}
	if len(v.elems) == 0 {
		return nil, nil, p.errf(v.off, "condition key %q has an empty array of values", key)
	}
	vals := make([]string, 0, len(v.elems))
	offs := make([]int, 0, len(v.elems))
	for _, e := range v.elems {
		if err := scalar(e); err != nil {
			return nil, nil, err
		}
		vals = append(vals, e.text)
		offs = append(offs, e.off)
	}
	return vals, offs, nil
}
