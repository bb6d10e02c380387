package document

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const standardJSON = `{
  "schemaVersion": "1.0",
  "description": "Document to hold regional settings for Session Manager",
  "sessionType": "Standard_Stream",
  "inputs": {
    "s3BucketName": "logs",
    "s3KeyPrefix": "sessions/",
    "s3EncryptionEnabled": "true",
    "cloudWatchLogGroupName": "/tether/sessions",
    "cloudWatchEncryptionEnabled": false,
    "cloudWatchStreamingEnabled": true,
    "kmsKeyId": "alias/sessions",
    "runAsEnabled": "true",
    "runAsDefaultUser": "ops",
    "idleSessionTimeout": "15",
    "maxSessionDuration": "120",
    "shellProfile": {"windows": "date", "linux": "cd; exec bash"},
    "ssmUserSudoDisabled": true
  }
}`

// standardYAML is the YAML example of AWS's schema page.
const standardYAML = `---
schemaVersion: '1.0'
description: Document to hold regional settings for Session Manager
sessionType: Standard_Stream
inputs:
  s3BucketName: ''
  s3KeyPrefix: ''
  s3EncryptionEnabled: true
  cloudWatchLogGroupName: ''
  cloudWatchEncryptionEnabled: true
  kmsKeyId: ''
  runAsEnabled: true
  runAsDefaultUser: ''
  shellProfile:
    windows: ''
    linux: ''
`

// interactiveJSON and interactiveYAML are the examples of AWS's page on
// restricting commands.
const interactiveJSON = `{
    "schemaVersion": "1.0",
    "description": "Document to view a log file on a Linux instance",
    "sessionType": "InteractiveCommands",
    "parameters": {
        "logpath": {
            "type": "String",
            "description": "The log file path to read.",
            "default": "/var/log/amazon/ssm/amazon-ssm-agent.log",
            "allowedPattern": "^[a-zA-Z0-9-_/]+(.log)$"
        }
    },
    "properties": {
        "linux": {
            "commands": "tail -f {{ logpath }}",
            "runAsElevated": true
        }
    }
}`

const interactiveYAML = `---
schemaVersion: '1.0'
description: Document to view a log file on a Linux instance
sessionType: InteractiveCommands
parameters:
  logpath:
    type: String
    description: The log file path to read.
    default: "/var/log/amazon/ssm/amazon-ssm-agent.log"
    allowedPattern: "^[a-zA-Z0-9-_/]+(.log)$"
properties:
  linux:
    commands: "tail -f {{ logpath }}"
    runAsElevated: true
`

const nonInteractiveJSON = `{
  "schemaVersion": "1.0",
  "sessionType": "NonInteractiveCommands",
  "parameters": {
    "unit": {"type": "String", "allowedValues": ["nginx", "sshd"], "default": "nginx"},
    "lines": {"type": "Integer", "default": 50}
  },
  "properties": {
    "linux": {
      "commands": ["systemctl status {{ unit }}", "journalctl -u {{unit}} -n {{ lines }}"],
      "separateOutputStream": "true",
      "stdOutSeparatorPrefix": "OUT:",
      "stdErrSeparatorPrefix": "ERR:"
    },
    "windows": {"commands": "Get-Service {{ unit }}"}
  }
}`

const nonInteractiveYAML = `schemaVersion: "1.0"
sessionType: NonInteractiveCommands
parameters:
  unit:
    type: String
    allowedValues: [nginx, sshd]
    default: nginx
  lines:
    type: Integer
    default: 50
properties:
  linux:
    commands:
      - systemctl status {{ unit }}
      - journalctl -u {{unit}} -n {{ lines }}
    separateOutputStream: "true"
    stdOutSeparatorPrefix: "OUT:"
    stdErrSeparatorPrefix: "ERR:"
  windows:
    commands: Get-Service {{ unit }}
`

const portJSON = `{
  "schemaVersion": "1.0",
  "description": "Postgres on a database host",
  "sessionType": "Port",
  "parameters": {
    "host": {"type": "String", "allowedPattern": "^[a-z0-9.-]+$", "default": "db.internal"},
    "localPortNumber": {"type": "String", "default": "0"}
  },
  "properties": {
    "portNumber": "5432",
    "type": "LocalPortForwarding",
    "localPortNumber": "{{ localPortNumber }}",
    "host": "{{ host }}"
  }
}`

// portYAML is the Port example of AWS's schema page, which writes the
// parameter type in lower case.
const portYAML = `---
schemaVersion: '1.0'
description: Document to open given port connection over Session Manager
sessionType: Port
parameters:
  paramExample:
    type: string
    description: document parameter
properties:
  portNumber: anyPortNumber
`

func TestParseValid(t *testing.T) {
	tests := []struct {
		name, format, content string
		check                 func(t *testing.T, d *Document)
	}{
		{"standard JSON", "JSON", standardJSON, func(t *testing.T, d *Document) {
			want := Inputs{
				S3BucketName: "logs", S3KeyPrefix: "sessions/", S3EncryptionEnabled: true,
				CloudWatchLogGroupName: "/tether/sessions", CloudWatchStreamingEnabled: true,
				KMSKeyID: "alias/sessions", RunAsEnabled: true, RunAsDefaultUser: "ops",
				IdleSessionTimeout: "15", MaxSessionDuration: "120",
				ShellProfile:        ShellProfile{Windows: "date", Linux: "cd; exec bash"},
				SSMUserSudoDisabled: true,
			}
			if d.Inputs != want {
				t.Errorf("inputs %+v\nwant   %+v", d.Inputs, want)
			}
			if d.Properties != nil || len(d.Parameters) != 0 {
				t.Errorf("properties %s, parameters %v; want none", d.Properties, d.Parameters)
			}
		}},
		{"standard YAML", "YAML", standardYAML, func(t *testing.T, d *Document) {
			if !d.Inputs.S3EncryptionEnabled || !d.Inputs.RunAsEnabled || d.Inputs.IdleSessionTimeout != "20" || d.Inputs.MaxSessionDuration != "" {
				t.Errorf("inputs %+v", d.Inputs)
			}
		}},
		{"interactive JSON", "JSON", interactiveJSON, func(t *testing.T, d *Document) {
			p := d.Parameters["logpath"]
			if p.Type != TypeString || p.Default != "/var/log/amazon/ssm/amazon-ssm-agent.log" || p.AllowedPattern != "^[a-zA-Z0-9-_/]+(.log)$" {
				t.Errorf("parameter %+v", p)
			}
			if string(d.Properties) != `{"linux":{"commands":"tail -f {{ logpath }}","runAsElevated":true}}` {
				t.Errorf("properties %s", d.Properties)
			}
		}},
		{"interactive YAML", "YAML", interactiveYAML, func(t *testing.T, d *Document) {
			j := mustParse(t, interactiveJSON, "JSON")
			if !reflect.DeepEqual(d.Parameters, j.Parameters) || string(d.Properties) != string(j.Properties) || d.Description != j.Description {
				t.Errorf("YAML and JSON differ:\n%+v %s\n%+v %s", d.Parameters, d.Properties, j.Parameters, j.Properties)
			}
		}},
		{"non-interactive JSON", "JSON", nonInteractiveJSON, func(t *testing.T, d *Document) {
			if d.Parameters["lines"].Default != int64(50) {
				t.Errorf("lines default %#v", d.Parameters["lines"].Default)
			}
			cp, err := d.LinuxCommands(nil)
			if err != nil {
				t.Fatal(err)
			}
			want := CommandProperties{
				Commands:             "systemctl status 'nginx'\njournalctl -u 'nginx' -n '50'",
				SeparateOutputStream: true, StdOutSeparatorPrefix: "OUT:", StdErrSeparatorPrefix: "ERR:",
			}
			if cp != want {
				t.Errorf("commands %+v\nwant     %+v", cp, want)
			}
		}},
		{"non-interactive YAML", "YAML", nonInteractiveYAML, func(t *testing.T, d *Document) {
			j := mustParse(t, nonInteractiveJSON, "JSON")
			if !reflect.DeepEqual(d.Parameters, j.Parameters) || string(d.Properties) != string(j.Properties) {
				t.Errorf("YAML and JSON differ:\n%+v %s\n%+v %s", d.Parameters, d.Properties, j.Parameters, j.Properties)
			}
		}},
		{"port JSON", "JSON", portJSON, func(t *testing.T, d *Document) {
			if d.SessionType != SessionPort || d.Inputs != (Inputs{}) {
				t.Errorf("type %s inputs %+v", d.SessionType, d.Inputs)
			}
		}},
		{"port YAML with lower-case type", "YAML", portYAML, func(t *testing.T, d *Document) {
			if d.Parameters["paramExample"].Type != TypeString {
				t.Errorf("type %q, want String", d.Parameters["paramExample"].Type)
			}
			if string(d.Properties) != `{"portNumber":"anyPortNumber"}` {
				t.Errorf("properties %s", d.Properties)
			}
		}},
		{"detect JSON", "", interactiveJSON, nil},
		{"byte order mark", "", "\xef\xbb\xbf" + portJSON, nil},
		{"detect YAML", "", interactiveYAML, nil},
		{"JSON read as YAML", "YAML", portJSON, nil},
		{"YAML numbers and types", "YAML", `schemaVersion: "1.0"
sessionType: InteractiveCommands
parameters:
  n: {type: Integer, default: 0x10, allowedValues: [16, 32]}
  b: {type: boolean, default: "false"}
  l: {type: StringList, default: [a, 1, true], minItems: 1, maxItems: 3, maxChars: 4}
  m: {type: StringMap, default: {k: v, n: 1}}
  ml: {type: MapList, default: [{a: 1.5}], displayType: textarea}
properties:
  linux:
    commands: echo {{ n }} {{ b }} {{ l }} {{ m }} {{ ml }}
`, func(t *testing.T, d *Document) {
			got := map[string]any{}
			for k, p := range d.Parameters {
				got[k] = p.Default
			}
			want := map[string]any{
				"n": int64(16), "b": false, "l": []string{"a", "1", "true"},
				"m": map[string]any{"k": "v", "n": float64(1)}, "ml": []any{map[string]any{"a": 1.5}},
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("defaults %#v\nwant     %#v", got, want)
			}
			vals, err := d.ResolveParameters(nil)
			if err != nil {
				t.Fatal(err)
			}
			if vals["m"] != `{"k":"v","n":1}` || vals["ml"] != `[{"a":1.5}]` || vals["l"] != "a\n1\ntrue" {
				t.Errorf("flattened %q", vals)
			}
		}},
		{"standard with parameters and properties", "JSON", `{"schemaVersion":"1.0","sessionType":"Standard_Stream","inputs":{},
			"parameters":{"x":{"type":"String","default":""}},"properties":{"anything":["{{x}}"]}}`, nil},
		{"go template text is not a reference", "JSON", `{"schemaVersion":"1.0","sessionType":"InteractiveCommands",
			"parameters":{"c":{"type":"String","default":"web"}},
			"properties":{"linux":{"commands":"docker inspect -f '{{.State.Status}}' {{ c }}"}}}`, func(t *testing.T, d *Document) {
			cp, err := d.LinuxCommands(nil)
			if err != nil {
				t.Fatal(err)
			}
			if cp.Commands != `docker inspect -f '{{.State.Status}}' 'web'` {
				t.Errorf("commands %q", cp.Commands)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, tt.content, tt.format)
			if d.SchemaVersion != "1.0" {
				t.Errorf("schemaVersion %q", d.SchemaVersion)
			}
			if d.Properties != nil && !json.Valid(d.Properties) {
				t.Errorf("properties are not JSON: %s", d.Properties)
			}
			if tt.check != nil {
				tt.check(t, d)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	const head = `"schemaVersion":"1.0",`
	cmd := func(params, linux string) string {
		return `{` + head + `"sessionType":"InteractiveCommands","parameters":{` + params + `},"properties":{"linux":` + linux + `}}`
	}
	param := func(def string) string {
		return `{` + head + `"sessionType":"Port","parameters":{"p":` + def + `},"properties":{"portNumber":"{{p}}"}}`
	}
	deep := `{` + head + `"sessionType":"Standard_Stream","inputs":{},"properties":` + strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100) + `}`
	tests := []struct {
		name, format, content string
		want                  []string
	}{
		{"too large", "JSON", `{"description":"` + strings.Repeat("x", MaxSize) + `"}`, []string{"the limit is 65536"}},
		{"unknown format", "TEXT", `{}`, []string{`documentFormat "TEXT": must be JSON or YAML`}},
		{"empty", "", "  \n", []string{"empty"}},
		{"JSON syntax", "JSON", "{\n  \"schemaVersion\": \"1.0\",\n  \"sessionType\" \"Port\"\n}", []string{"JSON:", "line 3"}},
		{"trailing JSON", "JSON", `{} {}`, []string{"unexpected data after the document"}},
		{"YAML syntax", "YAML", "schemaVersion: '1.0\nsessionType: Port", []string{"YAML:"}},
		{"not an object", "JSON", `["schemaVersion"]`, []string{"must be an object, not a list"}},
		{"unknown top-level key", "JSON", `{` + head + `"sessionType":"Port","mainSteps":[]}`, []string{"mainSteps: unknown key"}},
		{"no schemaVersion", "JSON", `{"sessionType":"Port"}`, []string{"schemaVersion: required"}},
		{"schemaVersion 2.2", "JSON", `{"schemaVersion":"2.2","sessionType":"Port"}`, []string{`schemaVersion "2.2": must be the string "1.0"`}},
		{"schemaVersion as a number", "YAML", "schemaVersion: 1.0\nsessionType: Port\n", []string{`schemaVersion 1.0: must be the string "1.0"`}},
		{"no sessionType", "JSON", `{` + head + `"description":"x"}`, []string{"sessionType: required"}},
		{"bad sessionType", "JSON", `{` + head + `"sessionType":"Shell"}`, []string{`sessionType "Shell": must be one of Standard_Stream, InteractiveCommands, NonInteractiveCommands, Port`}},
		{"description not a string", "JSON", `{` + head + `"sessionType":"Port","description":1}`, []string{"description: must be a string"}},
		{"inputs outside Standard_Stream", "JSON", `{` + head + `"sessionType":"Port","inputs":{},"properties":{"portNumber":"22"}}`, []string{"inputs: only Standard_Stream documents have inputs"}},
		{"Standard_Stream without inputs", "JSON", `{` + head + `"sessionType":"Standard_Stream"}`, []string{"inputs: required"}},
		{"unknown input", "JSON", `{` + head + `"sessionType":"Standard_Stream","inputs":{"s3Bucket":"x"}}`, []string{"inputs.s3Bucket: unknown key"}},
		{"input boolean", "JSON", `{` + head + `"sessionType":"Standard_Stream","inputs":{"runAsEnabled":"yes"}}`, []string{`inputs.runAsEnabled "yes": must be true or false`}},
		{"input string", "JSON", `{` + head + `"sessionType":"Standard_Stream","inputs":{"kmsKeyId":true}}`, []string{"inputs.kmsKeyId: must be a string"}},
		{"idle timeout too long", "JSON", `{` + head + `"sessionType":"Standard_Stream","inputs":{"idleSessionTimeout":"90"}}`, []string{`inputs.idleSessionTimeout "90": must be a whole number of minutes from 1 to 60`}},
		{"idle timeout zero", "JSON", `{` + head + `"sessionType":"Standard_Stream","inputs":{"idleSessionTimeout":"0"}}`, []string{"inputs.idleSessionTimeout"}},
		{"max duration too long", "JSON", `{` + head + `"sessionType":"Standard_Stream","inputs":{"maxSessionDuration":"1441"}}`, []string{`inputs.maxSessionDuration "1441"`, "1 to 1440"}},
		{"max duration not a number", "JSON", `{` + head + `"sessionType":"Standard_Stream","inputs":{"maxSessionDuration":"+5"}}`, []string{"inputs.maxSessionDuration"}},
		{"unknown shellProfile key", "JSON", `{` + head + `"sessionType":"Standard_Stream","inputs":{"shellProfile":{"macos":""}}}`, []string{"inputs.shellProfile.macos: unknown key"}},
		{"parameters not an object", "JSON", `{` + head + `"sessionType":"Port","parameters":[]}`, []string{"parameters: must be an object"}},
		{"parameter name", "JSON", `{` + head + `"sessionType":"Port","parameters":{"port-number":{"type":"String"}}}`, []string{`parameters: name "port-number" must match`}},
		{"parameter name too long", "JSON", `{` + head + `"sessionType":"Port","parameters":{"` + strings.Repeat("a", 129) + `":{"type":"String"}}}`, []string{"parameters: name"}},
		{"parameter unknown key", "JSON", param(`{"type":"String","allowedPatern":"x"}`), []string{"parameters.p.allowedPatern: unknown key"}},
		{"parameter no type", "JSON", param(`{"default":"1"}`), []string{"parameters.p.type: required"}},
		{"parameter bad type", "JSON", param(`{"type":"Number"}`), []string{`parameters.p.type "Number": must be one of String, StringList`}},
		{"pattern does not compile", "JSON", param(`{"type":"String","allowedPattern":"^(?!root)$"}`), []string{"parameters.p.allowedPattern: not a regular expression"}},
		{"default breaks pattern", "JSON", param(`{"type":"String","allowedPattern":"^[0-9]+$","default":"abc"}`), []string{`parameters.p.default: value "abc" does not match allowedPattern ^[0-9]+$`}},
		{"default breaks allowedValues", "JSON", param(`{"type":"String","allowedValues":["22","2222"],"default":"80"}`), []string{`parameters.p.default: value "80" is not one of the allowedValues "22", "2222"`}},
		{"default too long", "JSON", param(`{"type":"String","maxChars":3,"default":"12345"}`), []string{"parameters.p.default:", "maxChars is 3"}},
		{"default too few items", "JSON", param(`{"type":"StringList","minItems":2,"default":["a"]}`), []string{"parameters.p.default: 1 item; minItems is 2"}},
		{"minItems on a String", "JSON", param(`{"type":"String","minItems":1}`), []string{"parameters.p.minItems: applies only to StringList and MapList parameters"}},
		{"min above max", "JSON", param(`{"type":"String","minChars":5,"maxChars":2}`), []string{"parameters.p: minChars 5 is more than maxChars 2"}},
		{"fractional limit", "JSON", param(`{"type":"String","maxChars":1.5}`), []string{"parameters.p.maxChars 1.5: must be a whole number"}},
		{"limit as a string", "JSON", param(`{"type":"String","maxChars":"5"}`), []string{"parameters.p.maxChars"}},
		{"Integer default", "JSON", param(`{"type":"Integer","default":"abc"}`), []string{`parameters.p.default: value "abc" is not an integer`}},
		{"Integer allowedValues", "JSON", param(`{"type":"Integer","allowedValues":["1","x"]}`), []string{`parameters.p.allowedValues: value "x" is not an integer`}},
		{"Boolean default", "JSON", param(`{"type":"Boolean","default":"yes"}`), []string{`parameters.p.default: value "yes" is not true or false`}},
		{"null default", "JSON", param(`{"type":"String","default":null}`), []string{"parameters.p.default: must not be null"}},
		{"StringMap default", "JSON", param(`{"type":"StringMap","default":"k=v"}`), []string{"parameters.p.default: must be an object"}},
		{"empty allowedValues", "JSON", param(`{"type":"String","allowedValues":[]}`), []string{"parameters.p.allowedValues: must be a non-empty list"}},
		{"displayType", "JSON", param(`{"type":"String","displayType":"dropdown"}`), []string{`parameters.p.displayType "dropdown"`}},
		{"undeclared reference", "JSON", `{` + head + `"sessionType":"Port","properties":{"portNumber":"{{ port }}"}}`, []string{"properties.portNumber: {{ port }} names no parameter of this document"}},
		{"Parameter Store reference", "JSON", `{` + head + `"sessionType":"Port","properties":{"portNumber":"{{ssm:/ports/ssh}}"}}`, []string{"properties.portNumber: {{ssm:/ports/ssh}} refers to Parameter Store, which Tether does not support"}},
		{"Parameter Store default", "JSON", `{` + head + `"sessionType":"Standard_Stream","inputs":{},"parameters":{"p":{"type":"String","default":"{{ssm-secure:pw}}"}}}`, []string{"parameters.p.default:", "Parameter Store"}},
		{"commands without properties", "JSON", `{` + head + `"sessionType":"InteractiveCommands"}`, []string{"properties: required for sessionType InteractiveCommands"}},
		{"commands with empty properties", "JSON", `{` + head + `"sessionType":"InteractiveCommands","properties":{}}`, []string{"properties: must have a linux, windows or macos block"}},
		{"commands a number", "JSON", cmd(``, `{"commands":42}`), []string{"properties.linux.commands: must be a string or a list of strings"}},
		{"commands list of numbers", "JSON", cmd(``, `{"commands":["ls",42]}`), []string{"properties.linux.commands: must be a string or a list of strings; element 1 is a number"}},
		{"commands empty", "JSON", cmd(``, `{"commands":"  "}`), []string{"properties.linux.commands: must not be empty"}},
		{"commands missing", "JSON", cmd(``, `{"runAsElevated":true}`), []string{"properties.linux.commands: required"}},
		{"unknown OS", "JSON", `{` + head + `"sessionType":"InteractiveCommands","properties":{"solaris":{"commands":"ls"}}}`, []string{"properties.solaris: unknown key"}},
		{"unknown command key", "JSON", cmd(``, `{"commands":"ls","workingDirectory":"/"}`), []string{"properties.linux.workingDirectory: unknown key"}},
		{"separator prefix", "JSON", cmd(``, `{"commands":"ls","stdOutSeparatorPrefix":"out put!"}`), []string{`properties.linux.stdOutSeparatorPrefix "out put!": must match`}},
		{"runAsElevated as a string", "JSON", cmd(``, `{"commands":"ls","runAsElevated":"true"}`), []string{"properties.linux.runAsElevated: must be true or false, not a string"}},
		{"reference in a comment", "JSON", cmd(`"x":{"type":"String"}`, `{"commands":"ls # {{ x }}"}`), []string{"properties.linux.commands: {{ x }} is inside a comment"}},
		{"reference after a here-document", "JSON", cmd(`"x":{"type":"String"}`, `{"commands":"cat <<EOF\n{{ x }}\nEOF"}`), []string{"properties.linux.commands: {{ x }} comes after a here-document"}},
		{"reference in backticks", "JSON", cmd(`"x":{"type":"String"}`, "{\"commands\":\"echo `echo {{ x }}`\"}"), []string{"properties.linux.commands: {{ x }} is inside `...`"}},
		{"reference after a backslash", "JSON", cmd(`"x":{"type":"String"}`, `{"commands":"echo \\{{ x }}"}`), []string{"properties.linux.commands: {{ x }} is directly after a backslash"}},
		{"unterminated quote", "JSON", cmd(`"x":{"type":"String"}`, `{"commands":"echo {{ x }} 'oops"}`), []string{"properties.linux.commands: unterminated single quote"}},
		{"Port without properties", "JSON", `{` + head + `"sessionType":"Port"}`, []string{"properties: required for sessionType Port"}},
		{"Port without portNumber", "JSON", `{` + head + `"sessionType":"Port","properties":{"type":"LocalPortForwarding"}}`, []string{"properties.portNumber: required for sessionType Port"}},
		{"Port number not a string", "YAML", "schemaVersion: '1.0'\nsessionType: Port\nproperties:\n  portNumber: 22\n", []string{"properties.portNumber: must be a string, not a number"}},
		{"Port unknown key", "JSON", `{` + head + `"sessionType":"Port","properties":{"portNumber":"22","remotePort":"1"}}`, []string{"properties.remotePort: unknown key"}},
		{"Port type", "JSON", `{` + head + `"sessionType":"Port","properties":{"portNumber":"22","type":"RemotePortForwarding"}}`, []string{`properties.type "RemotePortForwarding"`}},
		{"duplicate JSON key", "JSON", `{` + head + `"sessionType":"Port","parameters":{"a":{"type":"String"},"a":{"type":"String"}}}`, []string{"parameters.a: duplicate key"}},
		{"duplicate YAML key", "YAML", "schemaVersion: '1.0'\nsessionType: Port\nsessionType: Port\n", []string{"sessionType"}},
		{"YAML alias", "YAML", "schemaVersion: '1.0'\nsessionType: Port\nparameters:\n  a: &p {type: String}\n  b: *p\n", []string{"parameters.b: YAML aliases are not supported"}},
		{"YAML tag", "YAML", "schemaVersion: !Ref Version\nsessionType: Port\n", []string{"schemaVersion: YAML tag !Ref is not supported"}},
		{"two YAML documents", "YAML", "schemaVersion: '1.0'\n---\nsessionType: Port\n", []string{"more than one document"}},
		{"too deep", "JSON", deep, []string{"nested deeper than 64 levels"}},
	}
	if len(tests) < 15 {
		t.Fatalf("only %d invalid documents", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse([]byte(tt.content), tt.format)
			if err == nil {
				t.Fatalf("parsed: %+v", d)
			}
			wantError(t, err, CodeInvalidDocument, tt.want...)
		})
	}
}
