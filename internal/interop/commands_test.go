package interop

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/testenv"
)

// TestCommandsSession runs commands documents through every installed AWS
// CLI with AWS's plugin, which handles InteractiveCommands and
// NonInteractiveCommands as it handles a shell (protocol.md §2): the
// built-in AWS-StartInteractiveCommand, and a NonInteractiveCommands
// document made with `aws ssm create-document`, whose separate stderr and
// exit code the plugin prints on stdout like the rest (§3.3).
func TestCommandsSession(t *testing.T) {
	clis := findCLIs(t)
	plugin := pluginDir(t)
	s := testenv.StartDev(t)

	doc := filepath.Join(t.TempDir(), "streams.json")
	content := `{"schemaVersion":"1.0","description":"streams apart","sessionType":"NonInteractiveCommands",
"properties":{"linux":{"commands":"printf 'out1\\nout2\\n'; printf 'err1\\n' >&2; exit 5","separateOutputStream":true}}}`
	if err := os.WriteFile(doc, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}

	for i, cli := range clis {
		r := newCLIRun(t, cli, s, plugin)

		t.Run(cli.name()+"/AWS-StartInteractiveCommand", func(t *testing.T) {
			r := *r
			r.t = t
			// The command outlives the plugin's first terminal-size
			// message (sent within 500 ms): see "a command that ends at
			// once" below for why it must, for now.
			tm := startTerm(t, r.command("ssm", "start-session", "--target", s.InstanceID,
				"--document-name", "AWS-StartInteractiveCommand", "--parameters", "command=sleep 1; stty size; echo hi$((1+1))"), 30, 100)
			sid := tm.ExpectSub(0, `Starting session with SessionId: (\S+)\n`)[1]
			// The parameter is the whole command, run by sh in a PTY of
			// the plugin's size.
			pos := tm.Expect(tm.Pos, `30 100\nhi2\n`)
			tm.Expect(pos, `Exiting session with sessionId: `+regexp.QuoteMeta(sid)+`\.`)
			if code := tm.ExitCode(30 * time.Second); code != 0 {
				t.Errorf("exit status %d, want 0", code)
			}
			waitHistory(&r, sid)
		})

		t.Run(cli.name()+"/NonInteractiveCommands from create-document", func(t *testing.T) {
			r := *r
			r.t = t
			name := "Streams-" + string(rune('A'+i))
			v := r.json(createDocumentShape, "ssm", "create-document", "--name", name,
				"--document-type", "Session", "--document-format", "JSON", "--content", "file://"+doc)
			if d, _ := v["DocumentDescription"].(map[string]any); d["Name"] != name || d["DocumentType"] != "Session" ||
				d["DocumentFormat"] != "JSON" || d["DocumentVersion"] != "1" || d["Status"] != "Active" {
				t.Errorf("create-document: %v", v)
			}
			tm := startTerm(t, r.command("ssm", "start-session", "--target", s.InstanceID, "--document-name", name), 24, 80)
			sid := tm.ExpectSub(0, `Starting session with SessionId: (\S+)\n`)[1]
			pos := tm.Expect(tm.Pos, `out1\nout2\n`)
			tm.Expect(tm.Pos, `err1\n`)
			tm.Expect(pos, `EXIT_CODE: 5`)
			tm.Expect(pos, `Exiting session with sessionId: `+regexp.QuoteMeta(sid)+`\.`)
			if code := tm.ExitCode(30 * time.Second); code != 0 {
				t.Errorf("exit status %d, want 0 (the plugin does not pass the exit code on)", code)
			}
			waitHistory(&r, sid)
		})
	}

	t.Run("a command that ends at once", func(t *testing.T) {
		r := newCLIRun(t, clis[0], s, plugin)
		for range 10 {
			tm := startTerm(t, r.command("ssm", "start-session", "--target", s.InstanceID,
				"--document-name", "AWS-StartInteractiveCommand", "--parameters", "command=echo hi$((1+1))"), 30, 100)
			sid := tm.ExpectSub(0, `Starting session with SessionId: (\S+)\n`)[1]
			tm.Expect(tm.Pos, `hi2\n(.|\n)*Exiting session with sessionId: `+regexp.QuoteMeta(sid)+`\.`)
			if code := tm.ExitCode(30 * time.Second); code != 0 {
				t.Errorf("exit status %d, want 0", code)
			}
		}
	})
}

// createDocumentShape is CreateDocument's output as AWS's model lists it;
// required marks what AWS returns for a new Session document.
var createDocumentShape = object{"DocumentDescription": req(object{
	"Sha1":                   opt(str{}),
	"Hash":                   opt(str{max: 256}),
	"HashType":               opt(enum{"Sha256", "Sha1"}),
	"Name":                   req(str{pattern: `^[a-zA-Z0-9_\-.]{3,128}$`}),
	"DisplayName":            opt(str{max: 1024}),
	"VersionName":            opt(str{}),
	"Owner":                  req(str{}),
	"CreatedDate":            req(timestamp{}),
	"Status":                 req(enum{"Creating", "Active", "Updating", "Deleting", "Failed"}),
	"StatusInformation":      opt(str{}),
	"DocumentVersion":        req(str{pattern: `^([$]LATEST|[$]DEFAULT|^[1-9][0-9]*$)$`}),
	"Description":            opt(str{}),
	"Parameters":             opt(list{object{"Name": opt(str{}), "Type": opt(enum{"String", "StringList"}), "Description": opt(str{}), "DefaultValue": opt(str{})}}),
	"PlatformTypes":          opt(list{enum{"Windows", "Linux", "MacOS"}}),
	"DocumentType":           req(enum{"Session"}),
	"SchemaVersion":          req(str{pattern: `^([0-9]+)\.([0-9]+)$`}),
	"LatestVersion":          req(str{pattern: `^[1-9][0-9]*$`}),
	"DefaultVersion":         req(str{pattern: `^[1-9][0-9]*$`}),
	"DocumentFormat":         req(enum{"YAML", "JSON", "TEXT"}),
	"TargetType":             opt(str{}),
	"Tags":                   opt(list{tagShape}),
	"AttachmentsInformation": opt(list{object{"Name": opt(str{})}}),
	"Requires":               opt(list{object{"Name": opt(str{}), "Version": opt(str{}), "RequireType": opt(str{}), "VersionName": opt(str{})}}),
	"Author":                 opt(str{}),
	"ReviewInformation":      opt(list{object{}}),
	"ApprovedVersion":        opt(str{}),
	"PendingReviewVersion":   opt(str{}),
	"ReviewStatus":           opt(str{}),
	"Category":               opt(list{str{}}),
	"CategoryEnum":           opt(list{str{}}),
})}
