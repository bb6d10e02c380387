package cli

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetherhq/tether/internal/auth"
	"github.com/tetherhq/tether/internal/docs"
	"github.com/tetherhq/tether/internal/ssmapi"
	"github.com/tetherhq/tether/internal/store"
	"github.com/tetherhq/tether/internal/store/sqlite"
)

// docServer serves the real document operations, with SigV4 and policy, to
// an admin whose credentials it puts in the environment.
func docServer(t *testing.T) {
	t.Helper()
	cliEnv(t)
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
	a, err := auth.New(auth.Config{Store: st, Sealer: sealer, Region: "us-east-1", Account: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateUser(t.Context(), "admin"); err != nil {
		t.Fatal(err)
	}
	if err := st.PutUserPolicy(t.Context(), "admin", store.Policy{Name: "admin", Document: auth.AdminPolicy}); err != nil {
		t.Fatal(err)
	}
	id, secret, err := a.CreateAccessKey(t.Context(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	mux := ssmapi.New(a, nil)
	docs.New(docs.Config{Store: st, Auth: a, Region: "us-east-1", Account: "123456789012"}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Setenv("TETHER_ENDPOINT", srv.URL)
	t.Setenv("TETHER_ACCESS_KEY_ID", id)
	t.Setenv("TETHER_SECRET_ACCESS_KEY", secret)
}

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(t.Context(), args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

func TestDocumentCommands(t *testing.T) {
	docServer(t)
	dir := t.TempDir()
	yamlDoc := "schemaVersion: \"1.0\"\ndescription: Forward a port\nsessionType: Port\nparameters:\n  portNumber:\n    type: String\n    default: \"8080\"\nproperties:\n  portNumber: \"{{ portNumber }}\"\n"
	jsonDoc := `{"schemaVersion":"1.0","sessionType":"Port","parameters":{"portNumber":{"type":"String","default":"9090"}},"properties":{"portNumber":"{{ portNumber }}"}}`
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return "file://" + p
	}
	yamlFile, jsonFile := write("fwd.yaml", yamlDoc), write("fwd.json", jsonDoc)

	// The format is worked out from the content.
	code, out, errs := run(t, "create-document", "--name", "Fwd", "--content", yamlFile, "--tags", "Team=blue")
	if code != 0 || !strings.Contains(out, "Format         YAML") || !strings.Contains(out, "Team=blue") ||
		!strings.Contains(out, `portNumber  String  "8080"`) {
		t.Fatalf("create-document: %d\n%s%s", code, out, errs)
	}
	code, out, _ = run(t, "get-document", "--name", "Fwd")
	if code != 0 || out != yamlDoc {
		t.Fatalf("get-document prints %q, want the content as written", out)
	}
	code, out, _ = run(t, "get-document", "--name", "Fwd", "--document-format", "JSON")
	if code != 0 || !json.Valid([]byte(out)) {
		t.Fatalf("get-document as JSON: %q", out)
	}

	code, out, errs = run(t, "update-document", "--name", "Fwd", "--content", jsonFile)
	if code != 0 || !strings.Contains(out, "Version        2 (default 1, latest 2)") || !strings.Contains(out, "update-document-default-version --name Fwd --document-version 2") {
		t.Fatalf("update-document: %d\n%s%s", code, out, errs)
	}
	code, _, errs = run(t, "update-document", "--name", "Fwd", "--content", jsonFile)
	if code != exitAPIError || !strings.Contains(errs, "(DuplicateDocumentContent) when calling the UpdateDocument operation") {
		t.Fatalf("update-document with the same content: %d %s", code, errs)
	}
	code, out, _ = run(t, "update-document-default-version", "--name", "Fwd", "--document-version", "2")
	if code != 0 || out != "Fwd: sessions now use version 2\n" {
		t.Fatalf("update-document-default-version: %d %q", code, out)
	}
	code, out, _ = run(t, "get-document", "--name", "Fwd", "--document-version", "1", "--output", "json")
	var g struct{ Content, DocumentVersion, DocumentFormat string }
	if code != 0 || json.Unmarshal([]byte(out), &g) != nil || g.Content != yamlDoc || g.DocumentVersion != "1" || g.DocumentFormat != "YAML" {
		t.Fatalf("get-document --output json: %d %s", code, out)
	}
	code, out, _ = run(t, "describe-document", "--name", "Fwd")
	if code != 0 || !strings.Contains(out, "Version        2 (default 2, latest 2)") || !strings.Contains(out, "Owner          123456789012") {
		t.Fatalf("describe-document: %d\n%s", code, out)
	}

	code, out, _ = run(t, "list-documents", "--filters", "Key=Owner,Values=Self")
	want := "NAME  OWNER         VERSION  FORMAT  TYPE     TAGS\nFwd   123456789012  2        JSON    Session  Team=blue\n"
	if code != 0 || out != want {
		t.Fatalf("list-documents Owner=Self:\n%s\nwant\n%s", out, want)
	}
	code, out, _ = run(t, "list-documents")
	if code != 0 || !strings.Contains(out, "AWS-StartSSHSession") || !strings.Contains(out, "Fwd ") {
		t.Fatalf("list-documents:\n%s", out)
	}
	code, _, errs = run(t, "list-documents", "--filters", "Owner=Self")
	if code != exitUsage || !strings.Contains(errs, "Key=K,Values=V1,V2") {
		t.Fatalf("list-documents with a bad filter: %d %s", code, errs)
	}

	code, out, errs = run(t, "delete-document", "--name", "Fwd")
	if code != 0 || out != "" || errs != "" {
		t.Fatalf("delete-document: %d %q %q", code, out, errs)
	}
	code, _, errs = run(t, "get-document", "--name", "Fwd")
	want = "\nAn error occurred (InvalidDocument) when calling the GetDocument operation: Document with name Fwd does not exist.\n"
	if code != exitAPIError || errs != want {
		t.Fatalf("get-document after delete: %d %q", code, errs)
	}
	code, _, errs = run(t, "create-document", "--name", "X")
	if code != exitUsage || !strings.Contains(errs, "--content is required") {
		t.Fatalf("create-document without content: %d %q", code, errs)
	}
}
