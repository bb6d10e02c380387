package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetherhq/tether/internal/testenv"
)

var (
	documentDescription = createDocumentShape["DocumentDescription"].shape
	getDocumentShape    = object{
		"Name":            req(str{pattern: `^[a-zA-Z0-9_\-.]{3,128}$`}),
		"DocumentVersion": req(str{pattern: `^([$]LATEST|[$]DEFAULT|[1-9][0-9]*)$`}),
		"Status":          req(enum{"Creating", "Active", "Updating", "Deleting", "Failed"}),
		"Content":         req(str{}),
		"DocumentType":    req(enum{"Session", "Command", "Automation"}),
		"DocumentFormat":  req(enum{"YAML", "JSON", "TEXT"}),
		"CreatedDate":     opt(timestamp{}),
	}
	describeDocumentShape = object{"Document": req(documentDescription)}
	listDocumentsShape    = object{"DocumentIdentifiers": req(list{object{
		"Name":            req(str{}),
		"Owner":           opt(str{}),
		"DocumentVersion": opt(str{}),
		"DocumentType":    opt(enum{"Session", "Command", "Automation"}),
		"DocumentFormat":  opt(enum{"YAML", "JSON", "TEXT"}),
		"SchemaVersion":   opt(str{}),
		"PlatformTypes":   opt(list{enum{"Windows", "Linux", "MacOS"}}),
		"Tags":            opt(list{tagShape}),
		"CreatedDate":     opt(timestamp{}),
	}}), "NextToken": opt(str{})}
	updateDefaultShape = object{"Description": req(object{
		"Name": req(str{}), "DefaultVersion": req(str{}), "DefaultVersionName": opt(str{}),
	})}
)

// TestDocumentsThroughAWSCLI drives the document operations with the
// official AWS CLI and checks each answer against AWS's shapes.
func TestDocumentsThroughAWSCLI(t *testing.T) {
	clis := findCLIs(t)
	s := testenv.StartDev(t)
	dir := t.TempDir()
	v1 := filepath.Join(dir, "v1.json")
	v2 := filepath.Join(dir, "v2.yaml")
	os.WriteFile(v1, []byte(`{"schemaVersion":"1.0","description":"v1","sessionType":"InteractiveCommands","parameters":{"n":{"type":"String","default":"3","allowedPattern":"^[0-9]+$"}},"properties":{"linux":{"commands":"uptime; echo {{ n }}"}}}`), 0o600)
	os.WriteFile(v2, []byte("schemaVersion: '1.0'\ndescription: v2\nsessionType: InteractiveCommands\nproperties:\n  linux:\n    commands: uptime\n"), 0o600)
	for i, cli := range clis {
		t.Run(cli.name(), func(t *testing.T) {
			r := newCLIRun(t, cli, s, "")
			name := "Cli-Doc-" + string(rune('A'+i))
			v := r.json(createDocumentShape, "ssm", "create-document", "--name", name, "--document-type", "Session",
				"--document-format", "JSON", "--content", "file://"+v1)
			if d := v["DocumentDescription"].(map[string]any); d["LatestVersion"] != "1" || d["DefaultVersion"] != "1" {
				t.Errorf("create-document: %v", d)
			}
			g := r.json(getDocumentShape, "ssm", "get-document", "--name", name)
			if !strings.Contains(g["Content"].(string), "uptime; echo {{ n }}") || g["DocumentVersion"] != "1" {
				t.Errorf("get-document: %v", g)
			}
			u := r.json(createDocumentShape, "ssm", "update-document", "--name", name, "--document-version", "$LATEST",
				"--document-format", "YAML", "--content", "file://"+v2)
			if d := u["DocumentDescription"].(map[string]any); d["DocumentVersion"] != "2" || d["LatestVersion"] != "2" || d["DefaultVersion"] != "1" {
				t.Errorf("update-document: %v", d)
			}
			r.json(updateDefaultShape, "ssm", "update-document-default-version", "--name", name, "--document-version", "2")
			d := r.json(describeDocumentShape, "ssm", "describe-document", "--name", name)
			if doc := d["Document"].(map[string]any); doc["DefaultVersion"] != "2" || doc["DocumentFormat"] != "YAML" {
				t.Errorf("describe-document: %v", doc)
			}
			g = r.json(getDocumentShape, "ssm", "get-document", "--name", name, "--document-version", "1")
			if g["DocumentFormat"] != "JSON" || g["DocumentVersion"] != "1" {
				t.Errorf("get-document version 1: %v", g)
			}
			l := r.json(listDocumentsShape, "ssm", "list-documents", "--filters", "Key=Owner,Values=Self")
			found := false
			for _, x := range l["DocumentIdentifiers"].([]any) {
				if x.(map[string]any)["Name"] == name {
					found = true
				}
			}
			if !found {
				t.Errorf("list-documents Owner=Self lacks %s: %v", name, l)
			}
			l = r.json(listDocumentsShape, "ssm", "list-documents", "--filters", "Key=Owner,Values=Amazon")
			if len(l["DocumentIdentifiers"].([]any)) < 6 {
				t.Errorf("list-documents Owner=Amazon: %v", l)
			}
			// An invalid document is refused as AWS refuses it.
			bad := filepath.Join(dir, "bad.json")
			os.WriteFile(bad, []byte(`{"schemaVersion":"1.0","sessionType":"Shell"}`), 0o600)
			_, errb, code := r.run("ssm", "create-document", "--name", name+"-bad", "--document-type", "Session", "--content", "file://"+bad)
			if code != cli.errorExit() || !strings.Contains(errb, "An error occurred (InvalidDocumentContent) when calling the CreateDocument operation:") ||
				!strings.Contains(errb, "sessionType") {
				t.Errorf("bad document: exit %d %s", code, errb)
			}
			if out, errb, code := r.run("ssm", "delete-document", "--name", name); code != 0 {
				t.Fatalf("delete-document: %d %s %s", code, out, errb)
			}
			_, errb, code = r.run("ssm", "get-document", "--name", name)
			if code != cli.errorExit() || !strings.Contains(errb, "An error occurred (InvalidDocument) when calling the GetDocument operation:") {
				t.Errorf("get-document after delete: exit %d %s", code, errb)
			}
		})
	}
}
