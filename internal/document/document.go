package document

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Session types, as AWS spells them.
const (
	SessionStandardStream         = "Standard_Stream"
	SessionInteractiveCommands    = "InteractiveCommands"
	SessionNonInteractiveCommands = "NonInteractiveCommands"
	SessionPort                   = "Port"
)

// Document formats accepted by Parse.
const (
	FormatJSON = "JSON"
	FormatYAML = "YAML"
)

// SchemaVersion is the only schema version of Session documents.
const SchemaVersion = "1.0"

// MaxSize is the largest document content Parse accepts, in bytes.
const MaxSize = 64 << 10

// DefaultIdleSessionTimeout is the idle timeout, in minutes, of a
// Standard_Stream document that does not set one.
const DefaultIdleSessionTimeout = "20"

// Error codes, spelled as AWS spells them.
const (
	// CodeInvalidDocument: the document content is wrong, or a request
	// names a parameter the document does not declare (as StartSession does).
	CodeInvalidDocument = "InvalidDocument"
	// CodeValidation: a parameter value breaks its definition.
	CodeValidation = "ValidationException"
)

// Error is a rejected document or parameter value. Message names the field
// or parameter at fault.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func invalidf(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidDocument, Message: fmt.Sprintf(format, args...)}
}

func validationf(format string, args ...any) *Error {
	return &Error{Code: CodeValidation, Message: fmt.Sprintf(format, args...)}
}

// Document is a parsed and validated Session document. Only Parse makes
// usable Documents: it compiles patterns, flattens defaults and prepares the
// Linux command template into unexported fields, so the exported ones are
// for reading, and changing them does not change what the methods do. The
// methods only read, so a Document is safe for concurrent use.
type Document struct {
	SchemaVersion string // always "1.0"
	Description   string
	SessionType   string
	Inputs        Inputs // only Standard_Stream documents have inputs
	Parameters    map[string]Parameter
	// Properties is the properties element as written (before
	// substitution), as compact JSON with keys in the order written; nil
	// when the document has none.
	Properties json.RawMessage

	specs map[string]*paramSpec
	props *node
	linux *commandBlock
}

// Inputs are the session preferences of a Standard_Stream document
// (SSM-SessionManagerRunShell). Booleans are written as true/false or, as
// AWS also accepts, "true"/"false".
type Inputs struct {
	S3BucketName                string `json:"s3BucketName"`
	S3KeyPrefix                 string `json:"s3KeyPrefix"`
	S3EncryptionEnabled         bool   `json:"s3EncryptionEnabled"`
	CloudWatchLogGroupName      string `json:"cloudWatchLogGroupName"`
	CloudWatchEncryptionEnabled bool   `json:"cloudWatchEncryptionEnabled"`
	CloudWatchStreamingEnabled  bool   `json:"cloudWatchStreamingEnabled"`
	KMSKeyID                    string `json:"kmsKeyId"`
	RunAsEnabled                bool   `json:"runAsEnabled"`
	RunAsDefaultUser            string `json:"runAsDefaultUser"`
	// IdleSessionTimeout is in minutes, "1" to "60"; Parse fills in
	// DefaultIdleSessionTimeout when the document leaves it out or empty.
	IdleSessionTimeout string `json:"idleSessionTimeout"`
	// MaxSessionDuration is in minutes, "1" to "1440", or "" for no limit.
	MaxSessionDuration string       `json:"maxSessionDuration"`
	ShellProfile       ShellProfile `json:"shellProfile"`
	// SSMUserSudoDisabled is Tether's own input, written
	// ssmUserSudoDisabled: when run-as is off and the agent creates
	// ssm-user, true means ssm-user gets no sudoers entry. AWS always grants
	// it passwordless sudo, which is the default here too.
	SSMUserSudoDisabled bool `json:"ssmUserSudoDisabled"`
	// RecordInput (Tether's recordInput) adds what the user types to the
	// transcript as asciicast "i" events. Off by default, as it records
	// passwords typed at prompts that do not echo.
	RecordInput bool `json:"recordInput"`
	// RecordingFailOpen (Tether's recordingFailOpen) lets sessions start
	// and go on when the agent cannot write their transcript (a full
	// disk). Off by default: such sessions are refused or ended.
	RecordingFailOpen bool `json:"recordingFailOpen"`
}

// ShellProfile holds commands run at the start of each Standard_Stream
// session, per operating system.
type ShellProfile struct {
	Windows string `json:"windows"`
	Linux   string `json:"linux"`
}

// CommandProperties is the per-OS block of an InteractiveCommands or
// NonInteractiveCommands document ({"linux": {...}}), after substitution.
type CommandProperties struct {
	Commands              string // a list in the document is joined with newlines
	RunAsElevated         bool
	SeparateOutputStream  bool
	StdOutSeparatorPrefix string
	StdErrSeparatorPrefix string
}

// PortProperties are the properties of a Port document, after substitution.
type PortProperties struct {
	PortNumber          string `json:"portNumber"`
	Type                string `json:"type,omitempty"`
	LocalPortNumber     string `json:"localPortNumber,omitempty"`
	Host                string `json:"host,omitempty"`
	LocalUnixSocket     string `json:"localUnixSocket,omitempty"`
	LocalConnectionType string `json:"localConnectionType,omitempty"`
	// Destinations (Tether) lists several forwards, one per line, each
	// PORT on the instance or HOST:PORT; each smux stream then starts with
	// a 2-byte big-endian index into the list. Only Tether's agent and CLI
	// use it (Tether-StartPortForwardingSessionMulti).
	Destinations string `json:"destinations,omitempty"`
}

var sessionTypes = []string{SessionStandardStream, SessionInteractiveCommands, SessionNonInteractiveCommands, SessionPort}

var topKeys = []string{"schemaVersion", "description", "sessionType", "inputs", "parameters", "properties"}

var inputKeys = []string{
	"s3BucketName", "s3KeyPrefix", "s3EncryptionEnabled", "cloudWatchLogGroupName",
	"cloudWatchEncryptionEnabled", "cloudWatchStreamingEnabled", "kmsKeyId", "runAsEnabled",
	"runAsDefaultUser", "idleSessionTimeout", "maxSessionDuration", "shellProfile", "ssmUserSudoDisabled",
	"recordInput", "recordingFailOpen",
}

var osKeys = []string{"linux", "windows", "macos"}

var commandKeys = []string{"commands", "runAsElevated", "separateOutputStream", "stdOutSeparatorPrefix", "stdErrSeparatorPrefix"}

var portKeys = []string{"portNumber", "type", "localPortNumber", "host", "localUnixSocket", "localConnectionType", "destinations"}

var separatorPrefix = regexp.MustCompile(`^[0-9a-zA-Z\r\n_:-]{0,30}$`)

// Parse parses and validates Session document content. format is "JSON",
// "YAML", or "" to detect it: content whose first non-blank byte is '{' is
// JSON, anything else YAML. Every error is an *Error with code
// CodeInvalidDocument.
func Parse(content []byte, format string) (*Document, error) {
	if len(content) > MaxSize {
		return nil, invalidf("the document is %d bytes; the limit is %d", len(content), MaxSize)
	}
	// Editors on Windows save UTF-8 with a byte order mark; it carries no
	// content.
	content = bytes.TrimPrefix(content, []byte("\xef\xbb\xbf"))
	if format == "" {
		format = FormatYAML
		if t := bytes.TrimLeft(content, " \t\r\n"); len(t) > 0 && t[0] == '{' {
			format = FormatJSON
		}
	}
	var root *node
	var err error
	switch format {
	case FormatJSON:
		root, err = decodeJSON(content)
	case FormatYAML:
		root, err = decodeYAML(content)
	default:
		return nil, invalidf("documentFormat %q: must be JSON or YAML", format)
	}
	if err != nil {
		return nil, err
	}
	if root.kind != kindObject {
		return nil, invalidf("the document must be an object, not %s", root.what())
	}
	return build(root)
}

func build(root *node) (*Document, error) {
	for _, k := range root.keys {
		if !slices.Contains(topKeys, k) {
			return nil, invalidf("%s: unknown key; a Session document has %s", k, list(topKeys))
		}
	}
	d := &Document{}

	sv := root.get("schemaVersion")
	if sv == nil {
		return nil, invalidf("schemaVersion: required")
	}
	if sv.kind != kindString || sv.str != SchemaVersion {
		return nil, invalidf("schemaVersion %s: must be the string %q", show(sv), SchemaVersion)
	}
	d.SchemaVersion = sv.str

	if n := root.get("description"); n != nil {
		if n.kind != kindString {
			return nil, invalidf("description: must be a string, not %s", n.what())
		}
		d.Description = n.str
	}

	st := root.get("sessionType")
	if st == nil {
		return nil, invalidf("sessionType: required; one of %s", strings.Join(sessionTypes, ", "))
	}
	if st.kind != kindString || !slices.Contains(sessionTypes, st.str) {
		return nil, invalidf("sessionType %s: must be one of %s", show(st), strings.Join(sessionTypes, ", "))
	}
	d.SessionType = st.str

	in := root.get("inputs")
	switch {
	case in != nil && d.SessionType != SessionStandardStream:
		return nil, invalidf("inputs: only Standard_Stream documents have inputs; this one is %s", d.SessionType)
	case in == nil && d.SessionType == SessionStandardStream:
		return nil, invalidf("inputs: required for sessionType Standard_Stream")
	case in != nil:
		inputs, err := parseInputs(in)
		if err != nil {
			return nil, err
		}
		d.Inputs = inputs
	}

	d.Parameters = map[string]Parameter{}
	d.specs = map[string]*paramSpec{}
	if ps := root.get("parameters"); ps != nil {
		if ps.kind != kindObject {
			return nil, invalidf("parameters: must be an object, not %s", ps.what())
		}
		for i, name := range ps.keys {
			p, spec, err := parseParameter(name, ps.elems[i])
			if err != nil {
				return nil, err
			}
			d.Parameters[name] = p
			d.specs[name] = spec
		}
	}

	props := root.get("properties")
	if props != nil {
		if err := d.checkReferences(props, "properties"); err != nil {
			return nil, err
		}
		d.props = props
		d.Properties = json.RawMessage(compact(props))
	}
	switch d.SessionType {
	case SessionInteractiveCommands, SessionNonInteractiveCommands:
		if err := d.parseCommands(props); err != nil {
			return nil, err
		}
	case SessionPort:
		if err := parsePort(props); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func parseInputs(n *node) (Inputs, error) {
	var in Inputs
	if n.kind != kindObject {
		return in, invalidf("inputs: must be an object, not %s", n.what())
	}
	for i, k := range n.keys {
		v := n.elems[i]
		path := "inputs." + k
		var err error
		switch k {
		case "s3BucketName":
			in.S3BucketName, err = str(v, path)
		case "s3KeyPrefix":
			in.S3KeyPrefix, err = str(v, path)
		case "s3EncryptionEnabled":
			in.S3EncryptionEnabled, err = boolean(v, path)
		case "cloudWatchLogGroupName":
			in.CloudWatchLogGroupName, err = str(v, path)
		case "cloudWatchEncryptionEnabled":
			in.CloudWatchEncryptionEnabled, err = boolean(v, path)
		case "cloudWatchStreamingEnabled":
			in.CloudWatchStreamingEnabled, err = boolean(v, path)
		case "kmsKeyId":
			in.KMSKeyID, err = str(v, path)
		case "runAsEnabled":
			in.RunAsEnabled, err = boolean(v, path)
		case "runAsDefaultUser":
			in.RunAsDefaultUser, err = str(v, path)
		case "idleSessionTimeout":
			in.IdleSessionTimeout, err = minutes(v, path, 1, 60)
		case "maxSessionDuration":
			in.MaxSessionDuration, err = minutes(v, path, 1, 1440)
		case "shellProfile":
			in.ShellProfile, err = parseShellProfile(v)
		case "ssmUserSudoDisabled":
			in.SSMUserSudoDisabled, err = boolean(v, path)
		case "recordInput":
			in.RecordInput, err = boolean(v, path)
		case "recordingFailOpen":
			in.RecordingFailOpen, err = boolean(v, path)
		default:
			err = invalidf("%s: unknown key; inputs has %s", path, list(inputKeys))
		}
		if err != nil {
			return in, err
		}
	}
	if in.IdleSessionTimeout == "" {
		in.IdleSessionTimeout = DefaultIdleSessionTimeout
	}
	return in, nil
}

func parseShellProfile(n *node) (ShellProfile, error) {
	var sp ShellProfile
	if n.kind != kindObject {
		return sp, invalidf("inputs.shellProfile: must be an object, not %s", n.what())
	}
	for i, k := range n.keys {
		var err error
		switch k {
		case "windows":
			sp.Windows, err = str(n.elems[i], "inputs.shellProfile.windows")
		case "linux":
			sp.Linux, err = str(n.elems[i], "inputs.shellProfile.linux")
		default:
			err = invalidf("inputs.shellProfile.%s: unknown key; shellProfile has windows and linux", k)
		}
		if err != nil {
			return sp, err
		}
	}
	return sp, nil
}

// minutes reads a duration input: a string (as AWS writes it) or a whole
// number, "" meaning unset. The result is canonical decimal.
func minutes(n *node, path string, lo, hi int) (string, error) {
	var s string
	switch n.kind {
	case kindString, kindNumber:
		s = n.str
	default:
		return "", invalidf("%s: must be a string of minutes, not %s", path, n.what())
	}
	if s == "" {
		return "", nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi || !digits(s) {
		return "", invalidf("%s %q: must be a whole number of minutes from %d to %d", path, s, lo, hi)
	}
	return strconv.Itoa(v), nil
}

// commandBlock is the linux block of a commands document, prepared for
// LinuxCommands.
type commandBlock struct {
	props CommandProperties // Commands holds the template
	// whole is set when the template is exactly one {{ name }}: the
	// parameter is the command.
	whole string
	refs  []shellRef
}

func (d *Document) parseCommands(props *node) error {
	if props == nil {
		return invalidf("properties: required for sessionType %s", d.SessionType)
	}
	if props.kind != kindObject {
		return invalidf("properties: must be an object, not %s", props.what())
	}
	if len(props.keys) == 0 {
		return invalidf("properties: must have a linux, windows or macos block")
	}
	for i, osName := range props.keys {
		path := "properties." + osName
		if !slices.Contains(osKeys, osName) {
			return invalidf("%s: unknown key; properties has %s", path, list(osKeys))
		}
		cp, err := parseCommandBlock(props.elems[i], path)
		if err != nil {
			return err
		}
		if osName != "linux" {
			continue
		}
		blk := &commandBlock{props: cp}
		if m := wholeRef.FindStringSubmatch(cp.Commands); m != nil {
			blk.whole = m[1]
		} else {
			refs, err := scanShell(cp.Commands, findRefs(cp.Commands))
			if err != nil {
				return invalidf("%s.commands: %s", path, err.Error())
			}
			blk.refs = refs
		}
		d.linux = blk
	}
	return nil
}

func parseCommandBlock(n *node, path string) (CommandProperties, error) {
	var cp CommandProperties
	if n.kind != kindObject {
		return cp, invalidf("%s: must be an object, not %s", path, n.what())
	}
	for i, k := range n.keys {
		v := n.elems[i]
		kp := path + "." + k
		var err error
		switch k {
		case "commands":
			cp.Commands, err = commands(v, kp)
		case "runAsElevated":
			// AWS's agent reads runAsElevated into a bool, so unlike the
			// other flags it cannot be a string.
			if v.kind != kindBool {
				return cp, invalidf("%s: must be true or false, not %s", kp, v.what())
			}
			cp.RunAsElevated = v.b
		case "separateOutputStream":
			cp.SeparateOutputStream, err = boolean(v, kp)
		case "stdOutSeparatorPrefix":
			cp.StdOutSeparatorPrefix, err = prefix(v, kp)
		case "stdErrSeparatorPrefix":
			cp.StdErrSeparatorPrefix, err = prefix(v, kp)
		default:
			err = invalidf("%s: unknown key; a commands block has %s", kp, list(commandKeys))
		}
		if err != nil {
			return cp, err
		}
	}
	if n.get("commands") == nil {
		return cp, invalidf("%s.commands: required", path)
	}
	return cp, nil
}

func commands(n *node, path string) (string, error) {
	var s string
	switch n.kind {
	case kindString:
		s = n.str
	case kindArray:
		lines := make([]string, len(n.elems))
		for i, e := range n.elems {
			if e.kind != kindString {
				return "", invalidf("%s: must be a string or a list of strings; element %d is %s", path, i, e.what())
			}
			lines[i] = e.str
		}
		s = strings.Join(lines, "\n")
	default:
		return "", invalidf("%s: must be a string or a list of strings, not %s", path, n.what())
	}
	if strings.TrimSpace(s) == "" {
		return "", invalidf("%s: must not be empty", path)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "", invalidf("%s: must not contain a NUL byte", path)
	}
	return s, nil
}

func prefix(n *node, path string) (string, error) {
	s, err := str(n, path)
	if err != nil {
		return "", err
	}
	if !separatorPrefix.MatchString(s) {
		return "", invalidf("%s %q: must match %s", path, s, separatorPrefix)
	}
	return s, nil
}

func parsePort(props *node) error {
	if props == nil {
		return invalidf("properties: required for sessionType Port")
	}
	if props.kind != kindObject {
		return invalidf("properties: must be an object, not %s", props.what())
	}
	for i, k := range props.keys {
		path := "properties." + k
		if !slices.Contains(portKeys, k) {
			return invalidf("%s: unknown key; Port properties are %s", path, list(portKeys))
		}
		// AWS's agent and plugin read every port property into a string,
		// so a number here would fail on their side.
		v := props.elems[i]
		if v.kind != kindString {
			return invalidf("%s: must be a string, not %s", path, v.what())
		}
		if k == "type" && v.str != "" && v.str != "LocalPortForwarding" && findRefs(v.str) == nil {
			return invalidf("%s %q: must be LocalPortForwarding or left out", path, v.str)
		}
	}
	if props.get("portNumber") == nil && props.get("destinations") == nil {
		return invalidf("properties.portNumber: required for sessionType Port")
	}
	return nil
}

// checkReferences walks every string under n and rejects Parameter Store
// references and {{ name }} references to undeclared parameters.
func (d *Document) checkReferences(n *node, path string) error {
	switch n.kind {
	case kindString:
		if m := ssmRef.FindString(n.str); m != "" {
			return invalidf("%s: %s refers to Parameter Store, which Tether does not support; declare a parameter instead", path, m)
		}
		for _, r := range findRefs(n.str) {
			if d.specs[r.name] == nil {
				return invalidf("%s: {{ %s }} names no parameter of this document", path, r.name)
			}
		}
	case kindArray:
		for i, e := range n.elems {
			if err := d.checkReferences(e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case kindObject:
		for i, k := range n.keys {
			if err := d.checkReferences(n.elems[i], path+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

func str(n *node, path string) (string, error) {
	if n.kind != kindString {
		return "", invalidf("%s: must be a string, not %s", path, n.what())
	}
	return n.str, nil
}

// boolean reads a flag written as true/false or, as AWS accepts,
// "true"/"false".
func boolean(n *node, path string) (bool, error) {
	switch {
	case n.kind == kindBool:
		return n.b, nil
	case n.kind == kindString && (n.str == "true" || n.str == "false"):
		return n.str == "true", nil
	}
	return false, invalidf("%s %s: must be true or false", path, show(n))
}

// show renders a value for an error message: strings quoted, others as JSON.
func show(n *node) string {
	return clip(compact(n), 64)
}

func list(keys []string) string {
	return strings.Join(keys[:len(keys)-1], ", ") + " and " + keys[len(keys)-1]
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
