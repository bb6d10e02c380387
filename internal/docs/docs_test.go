package docs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/auth"
	"github.com/tetherhq/tether/internal/document"
	"github.com/tetherhq/tether/internal/sigv4"
	"github.com/tetherhq/tether/internal/ssmapi"
	"github.com/tetherhq/tether/internal/store"
	"github.com/tetherhq/tether/internal/store/sqlite"
)

const (
	account = "123456789012"
	region  = "us-east-1"
)

var t0 = time.Date(2025, time.March, 14, 15, 9, 26, 535_000_000, time.UTC)

// env is a document service behind the real API dispatcher, SigV4 and
// policy evaluation, on a real SQLite store.
type env struct {
	t    *testing.T
	st   store.Store
	auth *auth.Authority
	svc  *Service
	mux  *ssmapi.Mux
	keys map[string]sigv4.Credentials
	now  time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tether.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, err := auth.LoadOrCreateKey(filepath.Join(t.TempDir(), "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := auth.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Config{Store: st, Sealer: sealer, Region: region, Account: account})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, auth: a, keys: map[string]sigv4.Credentials{}, now: t0}
	e.svc = New(Config{Store: st, Auth: a, Region: region, Account: account, Now: func() time.Time { return e.now }})
	e.mux = ssmapi.New(a, nil)
	e.svc.Register(e.mux)
	e.user("admin", auth.AdminPolicy)
	return e
}

// user creates a user with an inline policy (none if policy is "") and an
// access key.
func (e *env) user(name, policy string) {
	e.t.Helper()
	ctx := e.t.Context()
	if _, err := e.auth.CreateUser(ctx, name); err != nil {
		e.t.Fatal(err)
	}
	if policy != "" {
		if err := e.st.PutUserPolicy(ctx, name, store.Policy{Name: "p", Document: policy}); err != nil {
			e.t.Fatal(err)
		}
	}
	id, secret, err := e.auth.CreateAccessKey(ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	e.keys[name] = sigv4.Credentials{AccessKeyID: id, SecretAccessKey: secret}
}

// call sends AmazonSSM.<op> signed by user and decodes the answer into out.
// An error answer is returned as *api.Error.
func (e *env) call(user, op string, in, out any) error {
	e.t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		e.t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:7443/", bytes.NewReader(body))
	req.Header.Set("Content-Type", api.ContentType)
	req.Header.Set("X-Amz-Target", api.TargetSSM+op)
	if err := sigv4.Sign(req, body, e.keys[user], region, "ssm", time.Now()); err != nil {
		e.t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	e.mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		var eb struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil {
			e.t.Fatalf("%s: status %d with body %q", op, rec.Code, rec.Body)
		}
		return &api.Error{Status: rec.Code, Code: eb.Type, Message: eb.Message}
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			e.t.Fatalf("%s: decode %q: %v", op, rec.Body, err)
		}
	}
	return nil
}

// must calls op as admin and fails the test on an error.
func (e *env) must(op string, in, out any) {
	e.t.Helper()
	if err := e.call("admin", op, in, out); err != nil {
		e.t.Fatalf("%s %s: %v", op, show(in), err)
	}
}

// wantCode calls op as user and checks that it fails with code (and, if
// msg is not "", a message containing msg).
func (e *env) wantCode(user, op string, in any, code, msg string) {
	e.t.Helper()
	err := e.call(user, op, in, nil)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != code || !strings.Contains(ae.Message, msg) {
		e.t.Fatalf("%s %s as %s: got %v, want %s containing %q", op, show(in), user, err, code, msg)
	}
	if ae.Status != http.StatusBadRequest {
		e.t.Fatalf("%s: status %d, want 400", op, ae.Status)
	}
}

func show(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 200 {
		b = append(b[:200], "..."...)
	}
	return string(b)
}

func wantEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %s\nwant %s", what, mustJSON(got), mustJSON(want))
	}
}

func mustJSON(v any) string {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

func ptr(s string) *string { return &s }

const tailDoc = `{
  "schemaVersion": "1.0",
  "description": "Tail a log",
  "sessionType": "InteractiveCommands",
  "parameters": {
    "logpath": {"type": "String", "description": "the file", "default": "/var/log/syslog", "allowedPattern": "^[a-zA-Z0-9/._-]+$"},
    "lines": {"type": "Integer", "default": 10},
    "empty": {"type": "String", "default": ""},
    "required": {"type": "String", "allowedValues": ["a", "b"]}
  },
  "properties": {
    "linux": {"commands": "tail -n {{ lines }} -f {{ logpath }} {{ empty }} {{ required }}", "runAsElevated": false}
  }
}`

const portDoc = `{"schemaVersion":"1.0","sessionType":"Port","parameters":{"portNumber":{"type":"String","default":"8080"}},"properties":{"portNumber":"{{ portNumber }}"}}`

const portDocYAML = `schemaVersion: "1.0"
description: Forward a port
sessionType: Port
parameters:
  portNumber:
    type: String
    default: "8080"
  localPortNumber:
    type: String
    default: "0"
properties:
  portNumber: "{{ portNumber }}"
  type: LocalPortForwarding
  localPortNumber: "{{ localPortNumber }}"
`

func prefsDoc(idle string) string {
	return `{"schemaVersion":"1.0","description":"prefs","sessionType":"Standard_Stream","inputs":{"idleSessionTimeout":"` + idle + `","runAsEnabled":false}}`
}

func TestCreateDocumentDescription(t *testing.T) {
	e := newEnv(t)
	var out DocumentDescriptionOutput
	e.must("CreateDocument", CreateDocumentInput{
		Name: "Team-Tail", Content: tailDoc, DocumentType: "Session", DocumentFormat: "JSON",
		Tags: []api.Tag{{Key: "Team", Value: "blue"}, {Key: "Env", Value: "prod"}},
	}, &out)
	want := DocumentDescription{
		Hash: hashOf(tailDoc), HashType: "Sha256", Name: "Team-Tail", Owner: account,
		CreatedDate: float64(t0.UnixMilli()) / 1000, Status: "Active", DocumentVersion: "1",
		Description: "Tail a log",
		Parameters: []DocumentParameter{
			{Name: "empty", Type: "String", DefaultValue: ptr("")},
			{Name: "lines", Type: "Integer", DefaultValue: ptr("10")},
			{Name: "logpath", Type: "String", Description: "the file", DefaultValue: ptr("/var/log/syslog")},
			{Name: "required", Type: "String"},
		},
		PlatformTypes: []string{"Windows", "Linux", "MacOS"}, DocumentType: "Session", SchemaVersion: "1.0",
		LatestVersion: "1", DefaultVersion: "1", DocumentFormat: "JSON",
		Tags: []api.Tag{{Key: "Env", Value: "prod"}, {Key: "Team", Value: "blue"}},
	}
	wantEqual(t, "CreateDocument", out.DocumentDescription, want)

	var desc DescribeDocumentOutput
	e.must("DescribeDocument", DocumentInput{Name: "Team-Tail"}, &desc)
	wantEqual(t, "DescribeDocument", desc.Document, want)

	var got GetDocumentOutput
	e.must("GetDocument", DocumentInput{Name: "Team-Tail"}, &got)
	wantEqual(t, "GetDocument", got, GetDocumentOutput{
		Name: "Team-Tail", CreatedDate: want.CreatedDate, DocumentVersion: "1", Status: "Active",
		Content: tailDoc, DocumentType: "Session", DocumentFormat: "JSON",
	})

	// The raw answer carries AWS's member names, and no DefaultValue for a
	// parameter without a default.
	var raw map[string]any
	e.must("DescribeDocument", DocumentInput{Name: "Team-Tail"}, &raw)
	d := raw["Document"].(map[string]any)
	for _, k := range []string{"Hash", "HashType", "Name", "Owner", "CreatedDate", "Status", "DocumentVersion",
		"Parameters", "PlatformTypes", "DocumentType", "SchemaVersion", "LatestVersion", "DefaultVersion", "DocumentFormat", "Tags"} {
		if _, ok := d[k]; !ok {
			t.Errorf("DescribeDocument lacks %s: %v", k, d)
		}
	}
	if p := d["Parameters"].([]any)[3].(map[string]any); p["Name"] != "required" || p["DefaultValue"] != nil {
		t.Errorf("parameter without a default: %v", p)
	}
	// No tags is an empty list, not null.
	e.must("CreateDocument", CreateDocumentInput{Name: "Untagged", Content: portDoc, DocumentType: "Session"}, &raw)
	if tags, ok := raw["DocumentDescription"].(map[string]any)["Tags"].([]any); !ok || len(tags) != 0 {
		t.Errorf("Tags of an untagged document: %v", raw["DocumentDescription"])
	}
}

func TestVersions(t *testing.T) {
	e := newEnv(t)
	v1 := portDoc
	v2 := strings.Replace(portDoc, "8080", "8081", 1)
	v3 := strings.Replace(portDoc, "8080", "8082", 1)
	e.must("CreateDocument", CreateDocumentInput{Name: "Fwd", Content: v1, DocumentType: "Session"}, nil)

	var up DocumentDescriptionOutput
	e.must("UpdateDocument", UpdateDocumentInput{Name: "Fwd", Content: v2, DocumentVersion: "$LATEST"}, &up)
	if d := up.DocumentDescription; d.DocumentVersion != "2" || d.LatestVersion != "2" || d.DefaultVersion != "1" || d.Hash != hashOf(v2) {
		t.Fatalf("UpdateDocument $LATEST: %+v", d)
	}
	// Only the latest version can be updated.
	e.wantCode("admin", "UpdateDocument", UpdateDocumentInput{Name: "Fwd", Content: v3, DocumentVersion: "1"}, CodeInvalidDocumentVersion, "only the latest version (2)")
	e.wantCode("admin", "UpdateDocument", UpdateDocumentInput{Name: "Fwd", Content: v3, DocumentVersion: "$DEFAULT"}, CodeInvalidDocumentVersion, "")
	e.wantCode("admin", "UpdateDocument", UpdateDocumentInput{Name: "Fwd", Content: v3, DocumentVersion: "7"}, CodeInvalidDocumentVersion, "")
	e.wantCode("admin", "UpdateDocument", UpdateDocumentInput{Name: "Fwd", Content: v3, DocumentVersion: "latest"}, api.CodeValidation, "documentVersion")
	// The same content as the latest version is refused; as an older one
	// it is a new version.
	e.wantCode("admin", "UpdateDocument", UpdateDocumentInput{Name: "Fwd", Content: v2, DocumentVersion: "2"}, CodeDuplicateDocumentContent, "")
	e.must("UpdateDocument", UpdateDocumentInput{Name: "Fwd", Content: v3, DocumentVersion: "2"}, &up)
	wantEqual(t, "third version", up.DocumentDescription.DocumentVersion, "3")

	get := func(version string) GetDocumentOutput {
		t.Helper()
		var g GetDocumentOutput
		e.must("GetDocument", DocumentInput{Name: "Fwd", DocumentVersion: version}, &g)
		return g
	}
	for version, want := range map[string]struct{ v, content string }{
		"": {"1", v1}, "$DEFAULT": {"1", v1}, "$LATEST": {"3", v3}, "1": {"1", v1}, "2": {"2", v2}, "3": {"3", v3},
	} {
		g := get(version)
		if g.DocumentVersion != want.v || g.Content != want.content {
			t.Errorf("GetDocument %q: version %s content %s, want %s %s", version, g.DocumentVersion, g.Content, want.v, want.content)
		}
	}
	e.wantCode("admin", "GetDocument", DocumentInput{Name: "Fwd", DocumentVersion: "4"}, CodeInvalidDocumentVersion, "")
	e.wantCode("admin", "DescribeDocument", DocumentInput{Name: "Fwd", DocumentVersion: "4"}, CodeInvalidDocumentVersion, "")
	e.wantCode("admin", "GetDocument", DocumentInput{Name: "Fwd", DocumentVersion: "01"}, api.CodeValidation, "")

	// The default moves; GetDocument without a version follows it.
	var def UpdateDocumentDefaultVersionOutput
	e.must("UpdateDocumentDefaultVersion", DocumentInput{Name: "Fwd", DocumentVersion: "2"}, &def)
	wantEqual(t, "UpdateDocumentDefaultVersion", def, UpdateDocumentDefaultVersionOutput{Description: DefaultVersionDescription{Name: "Fwd", DefaultVersion: "2"}})
	wantEqual(t, "GetDocument after the default moved", get("").Content, v2)
	var desc DescribeDocumentOutput
	e.must("DescribeDocument", DocumentInput{Name: "Fwd", DocumentVersion: "1"}, &desc)
	if d := desc.Document; d.DocumentVersion != "1" || d.DefaultVersion != "2" || d.LatestVersion != "3" || d.Hash != hashOf(v1) {
		t.Fatalf("DescribeDocument version 1: %+v", d)
	}
	e.must("UpdateDocumentDefaultVersion", DocumentInput{Name: "Fwd", DocumentVersion: "$LATEST"}, &def)
	wantEqual(t, "default set to $LATEST", def.Description.DefaultVersion, "3")
	e.wantCode("admin", "UpdateDocumentDefaultVersion", DocumentInput{Name: "Fwd", DocumentVersion: "9"}, CodeInvalidDocumentVersion, "")
	e.wantCode("admin", "UpdateDocumentDefaultVersion", DocumentInput{Name: "Fwd", DocumentVersion: "v1"}, api.CodeValidation, "documentVersion")
	e.wantCode("admin", "UpdateDocumentDefaultVersion", DocumentInput{Name: "Fwd"}, api.CodeValidation, "documentVersion")

	// A new version may change the format.
	e.now = t0.Add(time.Hour)
	e.must("UpdateDocument", UpdateDocumentInput{Name: "Fwd", Content: portDocYAML, DocumentFormat: "YAML"}, &up)
	if d := up.DocumentDescription; d.DocumentVersion != "4" || d.DocumentFormat != "YAML" || d.CreatedDate != float64(e.now.UnixMilli())/1000 {
		t.Fatalf("YAML version: %+v", d)
	}
	// Content that does not parse in the format given is refused; the
	// format defaults to JSON, as in AWS.
	e.wantCode("admin", "UpdateDocument", UpdateDocumentInput{Name: "Fwd", Content: strings.Replace(portDocYAML, "8080", "9", 1)}, CodeInvalidDocumentContent, "")
	e.wantCode("admin", "UpdateDocument", UpdateDocumentInput{Name: "Fwd", Content: `{"schemaVersion":"1.0"}`}, CodeInvalidDocumentContent, "sessionType")
}

func TestFormatConversion(t *testing.T) {
	e := newEnv(t)
	e.must("CreateDocument", CreateDocumentInput{Name: "Fwd-YAML", Content: portDocYAML, DocumentType: "Session", DocumentFormat: "YAML"}, nil)
	var g GetDocumentOutput
	e.must("GetDocument", DocumentInput{Name: "Fwd-YAML"}, &g)
	if g.Content != portDocYAML || g.DocumentFormat != "YAML" {
		t.Fatalf("GetDocument of a YAML document: %+v", g)
	}
	e.must("GetDocument", DocumentInput{Name: "Fwd-YAML", DocumentFormat: "JSON"}, &g)
	if g.DocumentFormat != "JSON" {
		t.Fatalf("DocumentFormat %s, want JSON", g.DocumentFormat)
	}
	// Keys stay in the order written.
	want := `{
  "schemaVersion": "1.0",
  "description": "Forward a port",
  "sessionType": "Port",
  "parameters": {
    "portNumber": {
      "type": "String",
      "default": "8080"
    },
    "localPortNumber": {
      "type": "String",
      "default": "0"
    }
  },
  "properties": {
    "portNumber": "{{ portNumber }}",
    "type": "LocalPortForwarding",
    "localPortNumber": "{{ localPortNumber }}"
  }
}`
	wantEqual(t, "YAML as JSON", g.Content, want)

	// A built-in as YAML parses to the same document.
	e.must("GetDocument", DocumentInput{Name: "AWS-StartPortForwardingSessionToRemoteHost", DocumentFormat: "YAML"}, &g)
	b, _ := document.FindBuiltin("AWS-StartPortForwardingSessionToRemoteHost")
	samePortDoc(t, g.Content, "YAML", b.Content, "JSON")
	e.wantCode("admin", "GetDocument", DocumentInput{Name: "Fwd-YAML", DocumentFormat: "TEXT"}, api.CodeValidation, "documentFormat")
}

// samePortDoc checks that two contents are the same document.
func samePortDoc(t *testing.T, a, af, b, bf string) {
	t.Helper()
	da, err := document.Parse([]byte(a), af)
	if err != nil {
		t.Fatalf("parse %s:\n%s\n%v", af, a, err)
	}
	db, err := document.Parse([]byte(b), bf)
	if err != nil {
		t.Fatalf("parse %s: %v", bf, err)
	}
	if da.Description != db.Description || da.SessionType != db.SessionType ||
		string(da.Properties) != string(db.Properties) || !reflect.DeepEqual(da.Parameters, db.Parameters) || da.Inputs != db.Inputs {
		t.Fatalf("documents differ:\n%s\n%s", a, b)
	}
}

func TestConvertRoundTrip(t *testing.T) {
	for _, b := range document.Builtins() {
		t.Run(b.Name, func(t *testing.T) {
			y, err := convert(b.Content, "JSON", "YAML")
			if err != nil {
				t.Fatal(err)
			}
			samePortDoc(t, y, "YAML", b.Content, "JSON")
			j, err := convert(y, "YAML", "JSON")
			if err != nil {
				t.Fatal(err)
			}
			samePortDoc(t, j, "JSON", b.Content, "JSON")
		})
	}
	// Scalars that YAML would read as another type stay strings, and
	// multi-line text survives.
	in := `{"schemaVersion":"1.0","sessionType":"NonInteractiveCommands","parameters":{"n":{"type":"Integer","default":-3},"f":{"type":"Boolean","default":true},"s":{"type":"String","default":"true"},"l":{"type":"StringList","default":["22","null","a: b"]}},"properties":{"linux":{"commands":"echo one\necho 'two'  \n","runAsElevated":false}}}`
	y, err := convert(in, "JSON", "YAML")
	if err != nil {
		t.Fatal(err)
	}
	samePortDoc(t, y, "YAML", in, "JSON")
	j, err := toJSON(y, "YAML")
	if err != nil {
		t.Fatal(err)
	}
	var x, w any
	json.Unmarshal([]byte(j), &x)
	json.Unmarshal([]byte(in), &w)
	wantEqual(t, "JSON → YAML → JSON", x, w)
	// YAML spellings become JSON values as document.Parse reads them.
	j, err = toJSON("a: 0x1F\nb: yes\nc: ~\nd: 1e3\ne: 2025-01-01\n", "YAML")
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "YAML scalars as JSON", strings.Join(strings.Fields(j), ""), `{"a":31,"b":"yes","c":null,"d":1e3,"e":"2025-01-01"}`)
	for _, bad := range []string{"a: &x 1\nb: *x\n", "a: .nan\n", "- !custom 1\n", "a: [\n"} {
		if _, err := toJSON(bad, "YAML"); err == nil {
			t.Errorf("toJSON(%q): no error", bad)
		}
	}
}

func TestCreateDocumentRefusals(t *testing.T) {
	e := newEnv(t)
	big := `{"schemaVersion":"1.0","description":"` + strings.Repeat("x", document.MaxSize) + `","sessionType":"Port","properties":{"portNumber":"22"}}`
	manyTags := make([]api.Tag, MaxTagsPerResource+1)
	for i := range manyTags {
		manyTags[i] = api.Tag{Key: fmt.Sprint("k", i), Value: "v"}
	}
	tests := []struct {
		name string
		in   CreateDocumentInput
		code string
		msg  string
	}{
		{"no name", CreateDocumentInput{Content: portDoc, DocumentType: "Session"}, api.CodeValidation, "'name'"},
		{"short name", CreateDocumentInput{Name: "ab", Content: portDoc, DocumentType: "Session"}, api.CodeValidation, "regular expression pattern"},
		{"name with a space", CreateDocumentInput{Name: "my doc", Content: portDoc, DocumentType: "Session"}, api.CodeValidation, "regular expression pattern"},
		{"name with a slash", CreateDocumentInput{Name: "my/doc", Content: portDoc, DocumentType: "Session"}, api.CodeValidation, "regular expression pattern"},
		{"long name", CreateDocumentInput{Name: strings.Repeat("n", 129), Content: portDoc, DocumentType: "Session"}, api.CodeValidation, ""},
		{"AWS- prefix", CreateDocumentInput{Name: "AWS-Mine", Content: portDoc, DocumentType: "Session"}, api.CodeValidation, "reserved"},
		{"aw is not aws", CreateDocumentInput{Name: "awesome-not", Content: portDoc, DocumentType: "Session"}, "", ""},
		{"aws lower-case prefix", CreateDocumentInput{Name: "aws-mine", Content: portDoc, DocumentType: "Session"}, api.CodeValidation, "reserved"},
		{"awsome", CreateDocumentInput{Name: "AwSome", Content: portDoc, DocumentType: "Session"}, api.CodeValidation, "reserved"},
		{"Amazon prefix", CreateDocumentInput{Name: "AmazonShell", Content: portDoc, DocumentType: "Session"}, api.CodeValidation, "reserved"},
		{"amzn prefix", CreateDocumentInput{Name: "amzn-shell", Content: portDoc, DocumentType: "Session"}, api.CodeValidation, "reserved"},
		{"a built-in's name", CreateDocumentInput{Name: "AWS-StartSSHSession", Content: portDoc, DocumentType: "Session"}, api.CodeValidation, "reserved"},
		{"no type", CreateDocumentInput{Name: "Mine", Content: portDoc}, CodeInvalidDocumentType, "Command"},
		{"Command type", CreateDocumentInput{Name: "Mine", Content: portDoc, DocumentType: "Command"}, CodeInvalidDocumentType, "Session"},
		{"TEXT format", CreateDocumentInput{Name: "Mine", Content: portDoc, DocumentType: "Session", DocumentFormat: "TEXT"}, api.CodeValidation, "documentFormat"},
		{"lower-case format", CreateDocumentInput{Name: "Mine", Content: portDoc, DocumentType: "Session", DocumentFormat: "json"}, api.CodeValidation, "documentFormat"},
		{"no content", CreateDocumentInput{Name: "Mine", DocumentType: "Session"}, api.CodeValidation, "'content'"},
		{"bad JSON", CreateDocumentInput{Name: "Mine", Content: `{"schemaVersion":`, DocumentType: "Session"}, CodeInvalidDocumentContent, "JSON"},
		{"YAML as JSON", CreateDocumentInput{Name: "Mine", Content: portDocYAML, DocumentType: "Session"}, CodeInvalidDocumentContent, "JSON"},
		{"unknown key", CreateDocumentInput{Name: "Mine", Content: `{"schemaVersion":"1.0","sessionType":"Port","mainSteps":[]}`, DocumentType: "Session"}, CodeInvalidDocumentContent, "mainSteps"},
		{"Command schema", CreateDocumentInput{Name: "Mine", Content: `{"schemaVersion":"2.2","sessionType":"Port"}`, DocumentType: "Session"}, CodeInvalidDocumentSchemaVersion, "schemaVersion"},
		{"too big", CreateDocumentInput{Name: "Mine", Content: big, DocumentType: "Session"}, CodeMaxDocumentSizeExceeded, ""},
		{"version name", CreateDocumentInput{Name: "Mine", Content: portDoc, DocumentType: "Session", VersionName: "first"}, api.CodeValidation, "VersionName"},
		{"too many tags", CreateDocumentInput{Name: "Mine", Content: portDoc, DocumentType: "Session", Tags: manyTags}, api.CodeTooManyTagsError, ""},
		{"aws: tag", CreateDocumentInput{Name: "Mine", Content: portDoc, DocumentType: "Session", Tags: []api.Tag{{Key: "aws:x", Value: "v"}}}, api.CodeValidation, "aws:"},
		{"preferences as a Port document", CreateDocumentInput{Name: PreferencesDocument, Content: portDoc, DocumentType: "Session"}, CodeInvalidDocumentContent, "Standard_Stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.code == "" {
				e.must("CreateDocument", tt.in, nil)
				return
			}
			e.wantCode("admin", "CreateDocument", tt.in, tt.code, tt.msg)
		})
	}
	// None of the refused ones was stored.
	var list ListDocumentsOutput
	e.must("ListDocuments", ListDocumentsInput{Filters: []DocumentKeyValuesFilter{{Key: "Owner", Values: []string{"Self"}}}}, &list)
	if len(list.DocumentIdentifiers) != 1 || list.DocumentIdentifiers[0].Name != "awesome-not" {
		t.Fatalf("stored after the refusals: %+v", list.DocumentIdentifiers)
	}

	// Names that fit are accepted once.
	e.must("CreateDocument", CreateDocumentInput{Name: "My.doc_1-x", Content: portDoc, DocumentType: "Session"}, nil)
	e.must("CreateDocument", CreateDocumentInput{Name: "SSM-Custom", Content: portDocYAML, DocumentType: "Session", DocumentFormat: "YAML"}, nil)
	e.wantCode("admin", "CreateDocument", CreateDocumentInput{Name: "My.doc_1-x", Content: tailDoc, DocumentType: "Session"}, CodeDocumentAlreadyExists, "My.doc_1-x")
	var g GetDocumentOutput
	e.must("GetDocument", DocumentInput{Name: "My.doc_1-x"}, &g)
	wantEqual(t, "content after a refused duplicate", g.Content, portDoc)
}

func TestUnknownDocument(t *testing.T) {
	e := newEnv(t)
	const msg = "Document with name Nope does not exist."
	e.wantCode("admin", "GetDocument", DocumentInput{Name: "Nope"}, api.CodeInvalidDocument, msg)
	e.wantCode("admin", "GetDocument", DocumentInput{Name: "Nope", DocumentVersion: "2"}, api.CodeInvalidDocument, msg)
	e.wantCode("admin", "DescribeDocument", DocumentInput{Name: "Nope"}, api.CodeInvalidDocument, msg)
	e.wantCode("admin", "UpdateDocument", UpdateDocumentInput{Name: "Nope", Content: portDoc}, api.CodeInvalidDocument, msg)
	e.wantCode("admin", "UpdateDocumentDefaultVersion", DocumentInput{Name: "Nope", DocumentVersion: "1"}, api.CodeInvalidDocument, msg)
	e.wantCode("admin", "DeleteDocument", DocumentInput{Name: "Nope"}, api.CodeInvalidDocument, msg)
	// A reserved name that Amazon has no document under does not exist
	// either.
	e.wantCode("admin", "GetDocument", DocumentInput{Name: "AWS-Nope"}, api.CodeInvalidDocument, "AWS-Nope")
	e.wantCode("admin", "DeleteDocument", DocumentInput{Name: "AWS-Nope"}, api.CodeInvalidDocument, "AWS-Nope")
	// Names are case-sensitive.
	e.must("CreateDocument", CreateDocumentInput{Name: "Shell", Content: portDoc, DocumentType: "Session"}, nil)
	e.wantCode("admin", "GetDocument", DocumentInput{Name: "shell"}, api.CodeInvalidDocument, "shell")
	e.wantCode("admin", "GetDocument", DocumentInput{Name: "x"}, api.CodeValidation, "name")
	e.wantCode("admin", "GetDocument", DocumentInput{}, api.CodeValidation, "name")
	_, _, err := e.svc.Lookup(t.Context(), "Nope", "")
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeInvalidDocument || ae.Message != msg {
		t.Fatalf("Lookup Nope: %v", err)
	}
}

func TestBuiltins(t *testing.T) {
	e := newEnv(t)
	for _, b := range document.Builtins() {
		var g GetDocumentOutput
		e.must("GetDocument", DocumentInput{Name: b.Name}, &g)
		wantEqual(t, "GetDocument "+b.Name, g, GetDocumentOutput{
			Name: b.Name, DocumentVersion: "1", Status: "Active", Content: b.Content, DocumentType: "Session", DocumentFormat: "JSON",
		})
		for _, v := range []string{"1", "$LATEST", "$DEFAULT"} {
			e.must("GetDocument", DocumentInput{Name: b.Name, DocumentVersion: v}, &g)
		}
		e.wantCode("admin", "GetDocument", DocumentInput{Name: b.Name, DocumentVersion: "2"}, CodeInvalidDocumentVersion, "")
		e.wantCode("admin", "UpdateDocument", UpdateDocumentInput{Name: b.Name, Content: prefsDoc("5")}, CodeInvalidDocumentOperation, "owned by Amazon")
		e.wantCode("admin", "UpdateDocumentDefaultVersion", DocumentInput{Name: b.Name, DocumentVersion: "1"}, CodeInvalidDocumentOperation, "owned by Amazon")
		e.wantCode("admin", "DeleteDocument", DocumentInput{Name: b.Name}, CodeInvalidDocumentOperation, "owned by Amazon")

		content, d, err := e.svc.Lookup(t.Context(), b.Name, "")
		if err != nil || string(content) != b.Content || d == nil {
			t.Fatalf("Lookup %s: %v", b.Name, err)
		}
	}
	var desc DescribeDocumentOutput
	e.must("DescribeDocument", DocumentInput{Name: "AWS-StartSSHSession"}, &desc)
	d := desc.Document
	if d.Owner != "Amazon" || d.DocumentVersion != "1" || d.LatestVersion != "1" || d.DefaultVersion != "1" ||
		d.Status != "Active" || d.DocumentType != "Session" || d.Description == "" || d.CreatedDate != 0 || len(d.Tags) != 0 {
		t.Fatalf("DescribeDocument AWS-StartSSHSession: %+v", d)
	}
	if len(d.Parameters) != 1 || d.Parameters[0].Name != "portNumber" || d.Parameters[0].DefaultValue == nil || *d.Parameters[0].DefaultValue != "22" {
		t.Fatalf("AWS-StartSSHSession parameters: %+v", d.Parameters)
	}
	_, _, err := e.svc.Lookup(t.Context(), "AWS-StartSSHSession", "2")
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeInvalidDocument {
		t.Fatalf("Lookup of a built-in's version 2: %v", err)
	}
}

func TestPreferencesDocument(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	builtin, _ := document.FindBuiltin(PreferencesDocument)

	var desc DescribeDocumentOutput
	e.must("DescribeDocument", DocumentInput{Name: PreferencesDocument}, &desc)
	wantEqual(t, "owner before the account has its own", desc.Document.Owner, "Amazon")
	_, d, err := e.svc.Lookup(ctx, PreferencesDocument, "")
	if err != nil || d.Inputs.IdleSessionTimeout != "20" {
		t.Fatalf("Lookup of the built-in preferences: %v %+v", err, d)
	}

	// The account creates its own, which stands in for the built-in one.
	e.must("CreateDocument", CreateDocumentInput{Name: PreferencesDocument, Content: prefsDoc("5"), DocumentType: "Session"}, nil)
	e.must("DescribeDocument", DocumentInput{Name: PreferencesDocument}, &desc)
	if desc.Document.Owner != account || desc.Document.Hash != hashOf(prefsDoc("5")) {
		t.Fatalf("DescribeDocument of the account's preferences: %+v", desc.Document)
	}
	content, d, err := e.svc.Lookup(ctx, PreferencesDocument, "")
	if err != nil || d.Inputs.IdleSessionTimeout != "5" || string(content) != prefsDoc("5") {
		t.Fatalf("Lookup of the account's preferences: %v %s %+v", err, content, d)
	}
	var list ListDocumentsOutput
	e.must("ListDocuments", ListDocumentsInput{Filters: []DocumentKeyValuesFilter{{Key: "Name", Values: []string{"SSM-Session"}}}}, &list)
	if len(list.DocumentIdentifiers) != 1 || list.DocumentIdentifiers[0].Owner != account {
		t.Fatalf("ListDocuments lists the preferences as %+v, want once, the account's", list.DocumentIdentifiers)
	}
	e.must("ListDocuments", ListDocumentsInput{Filters: []DocumentKeyValuesFilter{{Key: "Owner", Values: []string{"Amazon"}}}}, &list)
	for _, d := range list.DocumentIdentifiers {
		if d.Name == PreferencesDocument {
			t.Fatal("Owner=Amazon lists the built-in preferences though the account has its own")
		}
	}

	e.wantCode("admin", "CreateDocument", CreateDocumentInput{Name: PreferencesDocument, Content: prefsDoc("6"), DocumentType: "Session"}, CodeDocumentAlreadyExists, "")
	e.wantCode("admin", "UpdateDocument", UpdateDocumentInput{Name: PreferencesDocument, Content: portDoc, DocumentVersion: "$LATEST"}, CodeInvalidDocumentContent, "Standard_Stream")
	e.must("UpdateDocument", UpdateDocumentInput{Name: PreferencesDocument, Content: prefsDoc("30"), DocumentVersion: "$LATEST"}, nil)
	_, d, _ = e.svc.Lookup(ctx, PreferencesDocument, "")
	wantEqual(t, "preferences in force before the default moves", d.Inputs.IdleSessionTimeout, "5")
	_, d, _ = e.svc.Lookup(ctx, PreferencesDocument, "2")
	wantEqual(t, "preferences of version 2", d.Inputs.IdleSessionTimeout, "30")
	_, _, err = e.svc.Lookup(ctx, PreferencesDocument, "3")
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeInvalidDocument {
		t.Fatalf("Lookup of a missing version: %v", err)
	}
	e.must("UpdateDocumentDefaultVersion", DocumentInput{Name: PreferencesDocument, DocumentVersion: "2"}, nil)
	_, d, _ = e.svc.Lookup(ctx, PreferencesDocument, "")
	wantEqual(t, "preferences in force after the default moved", d.Inputs.IdleSessionTimeout, "30")

	// Deleting the account's own brings the built-in one back.
	e.must("DeleteDocument", DocumentInput{Name: PreferencesDocument}, nil)
	content, d, err = e.svc.Lookup(ctx, PreferencesDocument, "")
	if err != nil || string(content) != builtin.Content || d.Inputs.IdleSessionTimeout != "20" {
		t.Fatalf("Lookup after delete: %v %s", err, content)
	}
	e.must("DescribeDocument", DocumentInput{Name: PreferencesDocument}, &desc)
	wantEqual(t, "owner after delete", desc.Document.Owner, "Amazon")
	e.wantCode("admin", "DeleteDocument", DocumentInput{Name: PreferencesDocument}, CodeInvalidDocumentOperation, "CreateDocument")
}

func TestLookupYAML(t *testing.T) {
	e := newEnv(t)
	e.must("CreateDocument", CreateDocumentInput{Name: "Fwd", Content: portDocYAML, DocumentType: "Session", DocumentFormat: "YAML"}, nil)
	content, d, err := e.svc.Lookup(t.Context(), "Fwd", "")
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(content) {
		t.Fatalf("Lookup content is not JSON: %s", content)
	}
	samePortDoc(t, string(content), "JSON", portDocYAML, "YAML")
	if d.SessionType != document.SessionPort || d.Parameters["localPortNumber"].Default != "0" {
		t.Fatalf("Lookup parsed %+v", d)
	}
	// A stored document is found under its exact name only.
	if _, _, err := e.svc.Lookup(t.Context(), "fwd", ""); err == nil {
		t.Fatal("Lookup is case-insensitive")
	}
}

func TestDeleteDocument(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.must("CreateDocument", CreateDocumentInput{Name: "Gone", Content: portDoc, DocumentType: "Session", Tags: []api.Tag{{Key: "k", Value: "v"}}}, nil)
	e.must("UpdateDocument", UpdateDocumentInput{Name: "Gone", Content: tailDoc}, nil)
	e.wantCode("admin", "DeleteDocument", DocumentInput{Name: "Gone", DocumentVersion: "2"}, api.CodeValidation, "one version")
	var g GetDocumentOutput
	e.must("GetDocument", DocumentInput{Name: "Gone", DocumentVersion: "2"}, &g)

	var out map[string]any
	e.must("DeleteDocument", DocumentInput{Name: "Gone"}, &out)
	if len(out) != 0 {
		t.Fatalf("DeleteDocument answered %v, want {}", out)
	}
	e.wantCode("admin", "GetDocument", DocumentInput{Name: "Gone"}, api.CodeInvalidDocument, "")
	e.wantCode("admin", "DeleteDocument", DocumentInput{Name: "Gone"}, api.CodeInvalidDocument, "")
	if _, err := e.st.ListTags(ctx, store.ResourceDocument, "Gone"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("tags after delete: %v", err)
	}
	// Created again, it starts over at version 1 without the old tags.
	var c DocumentDescriptionOutput
	e.must("CreateDocument", CreateDocumentInput{Name: "Gone", Content: tailDoc, DocumentType: "Session"}, &c)
	if d := c.DocumentDescription; d.DocumentVersion != "1" || d.LatestVersion != "1" || len(d.Tags) != 0 {
		t.Fatalf("recreated: %+v", d)
	}
}

func TestListDocuments(t *testing.T) {
	e := newEnv(t)
	for _, d := range []struct {
		name string
		tags []api.Tag
	}{
		{"Team-b", []api.Tag{{Key: "Env", Value: "prod"}}},
		{"Team-a", []api.Tag{{Key: "Env", Value: "dev"}, {Key: "Owner", Value: "ops"}}},
		{"Other", nil},
	} {
		e.must("CreateDocument", CreateDocumentInput{Name: d.name, Content: portDoc, DocumentType: "Session", Tags: d.tags}, nil)
	}
	e.must("UpdateDocument", UpdateDocumentInput{Name: "Other", Content: portDocYAML, DocumentFormat: "YAML"}, nil)
	e.must("UpdateDocumentDefaultVersion", DocumentInput{Name: "Other", DocumentVersion: "2"}, nil)

	names := func(in ListDocumentsInput) []string {
		t.Helper()
		var out ListDocumentsOutput
		e.must("ListDocuments", in, &out)
		if out.NextToken != "" {
			t.Fatalf("NextToken %q with fewer than 50 results", out.NextToken)
		}
		ns := []string{}
		for _, d := range out.DocumentIdentifiers {
			ns = append(ns, d.Name)
		}
		return ns
	}
	f := func(kv ...string) ListDocumentsInput {
		var in ListDocumentsInput
		for i := 0; i < len(kv); i += 2 {
			in.Filters = append(in.Filters, DocumentKeyValuesFilter{Key: kv[i], Values: strings.Split(kv[i+1], ",")})
		}
		return in
	}
	var builtins []string
	for _, b := range document.Builtins() {
		builtins = append(builtins, b.Name)
	}
	all := append([]string{"Other"}, builtins...)
	all = append(all, "Team-a", "Team-b")
	slices.Sort(all)
	slices.Sort(builtins)

	wantEqual(t, "no filter", names(ListDocumentsInput{}), all)
	wantEqual(t, "Owner=Self", names(f("Owner", "Self")), []string{"Other", "Team-a", "Team-b"})
	wantEqual(t, "Owner=Private", names(f("Owner", "Private")), []string{"Other", "Team-a", "Team-b"})
	wantEqual(t, "Owner=<account>", names(f("Owner", account)), []string{"Other", "Team-a", "Team-b"})
	wantEqual(t, "Owner=Amazon", names(f("Owner", "Amazon")), builtins)
	wantEqual(t, "Owner=All", names(f("Owner", "All")), all)
	wantEqual(t, "Owner=ThirdParty", names(f("Owner", "ThirdParty")), []string{})
	wantEqual(t, "Name prefix", names(f("Name", "Team-")), []string{"Team-a", "Team-b"})
	wantEqual(t, "Name prefixes", names(f("Name", "Team-a,Oth")), []string{"Other", "Team-a"})
	wantEqual(t, "tag value", names(f("tag:Env", "prod")), []string{"Team-b"})
	wantEqual(t, "tag values", names(f("tag:Env", "prod,dev")), []string{"Team-a", "Team-b"})
	wantEqual(t, "tag and name", names(f("tag:Env", "prod,dev", "Name", "Team-a")), []string{"Team-a"})
	wantEqual(t, "tag key only", names(ListDocumentsInput{Filters: []DocumentKeyValuesFilter{{Key: "tag:Owner"}}}), []string{"Team-a"})
	wantEqual(t, "DocumentType Session", names(f("DocumentType", "Session")), all)
	wantEqual(t, "DocumentType Command", names(f("DocumentType", "Command")), []string{})
	wantEqual(t, "PlatformTypes Linux", names(f("PlatformTypes", "Linux")), all)
	wantEqual(t, "Owner and Name", names(f("Owner", "Amazon", "Name", "AWS-StartPort")),
		[]string{"AWS-StartPortForwardingSession", "AWS-StartPortForwardingSessionToRemoteHost"})
	wantEqual(t, "legacy Owner", names(ListDocumentsInput{DocumentFilterList: []DocumentFilter{{Key: "Owner", Value: "Self"}}}), []string{"Other", "Team-a", "Team-b"})
	wantEqual(t, "legacy Name", names(ListDocumentsInput{DocumentFilterList: []DocumentFilter{{Key: "Name", Value: "Team-b"}}}), []string{"Team-b"})

	// Each identifier describes the default version.
	var out ListDocumentsOutput
	e.must("ListDocuments", f("Name", "Other,Team-a,AWS-StartSSHSession"), &out)
	wantEqual(t, "identifiers", out.DocumentIdentifiers, []DocumentIdentifier{
		{Name: "AWS-StartSSHSession", Owner: "Amazon", PlatformTypes: platformTypes, DocumentVersion: "1",
			DocumentType: "Session", SchemaVersion: "1.0", DocumentFormat: "JSON", Tags: []api.Tag{}},
		{Name: "Other", CreatedDate: float64(t0.UnixMilli()) / 1000, Owner: account, PlatformTypes: platformTypes, DocumentVersion: "2",
			DocumentType: "Session", SchemaVersion: "1.0", DocumentFormat: "YAML", Tags: []api.Tag{}},
		{Name: "Team-a", CreatedDate: float64(t0.UnixMilli()) / 1000, Owner: account, PlatformTypes: platformTypes, DocumentVersion: "1",
			DocumentType: "Session", SchemaVersion: "1.0", DocumentFormat: "JSON",
			Tags: []api.Tag{{Key: "Env", Value: "dev"}, {Key: "Owner", Value: "ops"}}},
	})

	// Pages of two walk the whole list once.
	var walked []string
	in := ListDocumentsInput{MaxResults: 2}
	for pages := 0; ; pages++ {
		if pages > len(all) {
			t.Fatal("pagination does not end")
		}
		var page ListDocumentsOutput
		e.must("ListDocuments", in, &page)
		if len(page.DocumentIdentifiers) > 2 {
			t.Fatalf("page of %d with MaxResults 2", len(page.DocumentIdentifiers))
		}
		for _, d := range page.DocumentIdentifiers {
			walked = append(walked, d.Name)
		}
		if page.NextToken == "" {
			break
		}
		in.NextToken = page.NextToken
	}
	wantEqual(t, "paged", walked, all)

	e.wantCode("admin", "ListDocuments", ListDocumentsInput{NextToken: "bogus"}, api.CodeInvalidNextToken, "")
	e.wantCode("admin", "ListDocuments", ListDocumentsInput{MaxResults: 51}, api.CodeValidation, "maxResults")
	e.wantCode("admin", "ListDocuments", f("Colour", "red"), api.CodeInvalidFilterKey, "Colour")
	e.wantCode("admin", "ListDocuments", f("tag:", "x"), api.CodeInvalidFilterKey, "")
	e.wantCode("admin", "ListDocuments", ListDocumentsInput{DocumentFilterList: []DocumentFilter{{Key: "SchemaVersion", Value: "1.0"}}}, api.CodeInvalidFilterKey, "")
	e.wantCode("admin", "ListDocuments", ListDocumentsInput{
		Filters: f("Owner", "Self").Filters, DocumentFilterList: []DocumentFilter{{Key: "Owner", Value: "Self"}},
	}, api.CodeValidation, "together")
}

func TestAuthorization(t *testing.T) {
	e := newEnv(t)
	arn := func(name string) string { return "arn:aws:ssm:" + region + ":" + account + ":document/" + name }
	e.user("nobody", "")
	e.user("reader", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["ssm:GetDocument","ssm:DescribeDocument"],"Resource":"`+arn("Team-*")+`"},
		{"Effect":"Allow","Action":"ssm:ListDocuments","Resource":"*"}]}`)
	e.user("blue", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["ssm:GetDocument","ssm:UpdateDocument"],"Resource":"*",
		 "Condition":{"StringEquals":{"ssm:resourceTag/Team":"blue"}}},
		{"Effect":"Allow","Action":"ssm:CreateDocument","Resource":"*",
		 "Condition":{"StringEquals":{"aws:RequestTag/Team":"blue"}}}]}`)
	e.must("CreateDocument", CreateDocumentInput{Name: "Team-Blue", Content: portDoc, DocumentType: "Session", Tags: []api.Tag{{Key: "Team", Value: "blue"}}}, nil)
	e.must("CreateDocument", CreateDocumentInput{Name: "Private", Content: portDoc, DocumentType: "Session"}, nil)

	ops := []struct {
		op string
		in any
	}{
		{"CreateDocument", CreateDocumentInput{Name: "Team-New", Content: portDoc, DocumentType: "Session"}},
		{"GetDocument", DocumentInput{Name: "Team-Blue"}},
		{"DescribeDocument", DocumentInput{Name: "Team-Blue"}},
		{"UpdateDocument", UpdateDocumentInput{Name: "Team-Blue", Content: tailDoc}},
		{"UpdateDocumentDefaultVersion", DocumentInput{Name: "Team-Blue", DocumentVersion: "1"}},
		{"DeleteDocument", DocumentInput{Name: "Team-Blue"}},
	}
	for _, o := range ops {
		name := "Team-New"
		if o.op != "CreateDocument" {
			name = "Team-Blue"
		}
		want := "User: arn:aws:iam::" + account + ":user/nobody is not authorized to perform: ssm:" + o.op + " on resource: " + arn(name)
		e.wantCode("nobody", o.op, o.in, api.CodeAccessDenied, want)
	}
	e.wantCode("nobody", "ListDocuments", ListDocumentsInput{}, api.CodeAccessDenied, "ssm:ListDocuments on resource: *")

	// The reader reads Team-* only; a missing document is denied too, so a
	// denied caller cannot learn which names exist.
	e.must2("reader", "GetDocument", DocumentInput{Name: "Team-Blue"})
	e.must2("reader", "DescribeDocument", DocumentInput{Name: "Team-Blue"})
	e.must2("reader", "ListDocuments", ListDocumentsInput{})
	e.wantCode("reader", "GetDocument", DocumentInput{Name: "Private"}, api.CodeAccessDenied, arn("Private"))
	e.wantCode("reader", "GetDocument", DocumentInput{Name: "Missing"}, api.CodeAccessDenied, "")
	e.wantCode("reader", "GetDocument", DocumentInput{Name: "AWS-StartSSHSession"}, api.CodeAccessDenied, arn("AWS-StartSSHSession"))
	e.wantCode("reader", "UpdateDocument", UpdateDocumentInput{Name: "Team-Blue", Content: tailDoc}, api.CodeAccessDenied, "")
	e.wantCode("reader", "DeleteDocument", DocumentInput{Name: "Team-Blue"}, api.CodeAccessDenied, "")
	e.wantCode("reader", "CreateDocument", CreateDocumentInput{Name: "Team-X", Content: portDoc, DocumentType: "Session"}, api.CodeAccessDenied, "")

	// Tags: ssm:resourceTag/* on existing documents, aws:RequestTag/* on
	// creation.
	e.must2("blue", "GetDocument", DocumentInput{Name: "Team-Blue"})
	e.must2("blue", "UpdateDocument", UpdateDocumentInput{Name: "Team-Blue", Content: tailDoc})
	e.wantCode("blue", "GetDocument", DocumentInput{Name: "Private"}, api.CodeAccessDenied, "")
	e.wantCode("blue", "CreateDocument", CreateDocumentInput{Name: "Red", Content: portDoc, DocumentType: "Session", Tags: []api.Tag{{Key: "Team", Value: "red"}}}, api.CodeAccessDenied, "")
	e.must2("blue", "CreateDocument", CreateDocumentInput{Name: "Blue2", Content: portDoc, DocumentType: "Session", Tags: []api.Tag{{Key: "Team", Value: "blue"}}})

	// Nothing the denied calls asked for happened.
	var g GetDocumentOutput
	e.must("GetDocument", DocumentInput{Name: "Team-Blue", DocumentVersion: "$LATEST"}, &g)
	wantEqual(t, "latest version after denied and allowed updates", g.DocumentVersion, "2")
	e.wantCode("admin", "GetDocument", DocumentInput{Name: "Team-New"}, api.CodeInvalidDocument, "")
	e.wantCode("admin", "GetDocument", DocumentInput{Name: "Red"}, api.CodeInvalidDocument, "")
}

// must2 calls op as user and fails the test on an error.
func (e *env) must2(user, op string, in any) {
	e.t.Helper()
	if err := e.call(user, op, in, nil); err != nil {
		e.t.Fatalf("%s as %s: %v", op, user, err)
	}
}

// TestBadJSON: a body that is not the operation's shape is AWS's
// SerializationException, before anything else.
func TestBadJSON(t *testing.T) {
	e := newEnv(t)
	e.wantCode("admin", "CreateDocument", map[string]any{"Name": 5}, api.CodeSerialization, "")
	e.wantCode("admin", "ListDocuments", map[string]any{"Filters": "Owner"}, api.CodeSerialization, "")
}
