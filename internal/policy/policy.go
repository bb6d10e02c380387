// Package policy parses, validates and evaluates IAM-style JSON policies the
// way AWS IAM documents them: default deny, explicit Deny over Allow,
// wildcards, NotAction/NotResource, condition operators with IfExists and
// the ForAnyValue/ForAllValues set prefixes, and policy variables.
//
// It is pure: no I/O, no clock, no logging. Everything a decision depends on
// arrives in the Request, including aws:CurrentTime and aws:SourceIp. It is
// a leaf imported by the server's authorisation layer and by the
// `tether iam simulate` command.
package policy

import (
	"fmt"
	"unicode/utf8"
)

// MaxDocumentSize is the largest policy document Parse accepts, in bytes.
const MaxDocumentSize = 10240

// Policy language versions. A document without a Version is read as
// Version2008, in which policy variables are literal text.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Document is a parsed and validated policy. Only Parse makes usable
// Documents: it compiles each statement's patterns and conditions into
// unexported fields, so the exported ones are for reading and explaining,
// and changing them does not change how the Document evaluates.
type Document struct {
	// Version is the policy language version, Version2008 when the document
	// has none.
	Version    string
	ID         string // the optional top-level Id element
	Statements []Statement
}

// Effect is what a statement does when it matches.
type Effect string

// The two effects a statement can have.
const (
	EffectAllow Effect = "Allow"
	EffectDeny  Effect = "Deny"
)

// Statement is one validated statement. Exactly one of Action and NotAction,
// and one of Resource and NotResource, is non-nil.
type Statement struct {
	Sid         string
	Effect      Effect
	Action      []string
	NotAction   []string
	Resource    []string
	NotResource []string
	Conditions  []Condition // all must hold for the statement to match
	Index       int         // position in Document.Statements, from 0

	actions   []string   // lowercased glob patterns of Action or NotAction
	resources []template // compiled Resource or NotResource
}

// Condition is one key of one operator block, e.g. the
// "aws:SourceIp": ["192.0.2.0/24"] entry under "IpAddress".
type Condition struct {
	Operator string   // as written, e.g. "ForAnyValue:StringLikeIfExists"
	Key      string   // as written, e.g. "aws:PrincipalTag/team"
	Values   []string // booleans and numbers in their JSON spelling

	c compiledCondition
}

// ParseError is a mistake in a policy document and where it is.
type ParseError struct {
	Line   int // 1-based
	Column int // 1-based, counted in characters
	Offset int // byte offset from the start of the document
	Msg    string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

func newParseError(src []byte, off int, msg string) *ParseError {
	line, col := lineCol(src, off)
	return &ParseError{Line: line, Column: col, Offset: off, Msg: msg}
}

func lineCol(src []byte, off int) (line, col int) {
	off = min(max(off, 0), len(src))
	line, lineStart := 1, 0
	for i := 0; i < off; i++ {
		if src[i] == '\n' {
			line++
			lineStart = i + 1
		}
	}
	return line, utf8.RuneCount(src[lineStart:off]) + 1
}

func position(src []byte, off int) string {
	line, col := lineCol(src, off)
	return fmt.Sprintf("line %d, column %d", line, col)
}

// NamedPolicy is a policy together with a name used in explanations, such as
// "user:alice/inline:Admin".
type NamedPolicy struct {
	Name string
	Doc  *Document
}

// Request is what is being authorised.
type Request struct {
	Action   string // e.g. "ssm:StartSession"
	Resource string // an ARN, or "*" for actions without resource-level permissions
	// Context maps condition keys to their values. Key lookup ignores case,
	// as IAM's does. A key with no values is treated as absent.
	Context map[string][]string
}

// Decision is the outcome of an evaluation.
type Decision int

// The three outcomes. ImplicitDeny is the zero value: nothing allowed it.
const (
	ImplicitDeny Decision = iota
	Allow
	ExplicitDeny
)

// String returns the names AWS's policy simulator uses for EvalDecision.
func (d Decision) String() string {
	switch d {
	case ImplicitDeny:
		return "implicitDeny"
	case Allow:
		return "allowed"
	case ExplicitDeny:
		return "explicitDeny"
	default:
		return fmt.Sprintf("Decision(%d)", int(d))
	}
}

// Result is a decision and the statement that made it. For an implicit deny
// Policy and Sid are empty and Statement is 0.
type Result struct {
	Decision  Decision
	Policy    string // NamedPolicy.Name of the deciding policy
	Sid       string
	Statement int // index of the deciding statement in that policy
}
