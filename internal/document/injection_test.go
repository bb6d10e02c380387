package document

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hostile are parameter values that would run a command or change the
// command's shape if they were spliced in as shell text. Each tries to
// create a file named pwned in the working directory.
var hostile = []string{
	"plain",
	"",
	"two words",
	"semi; touch pwned",
	"$(touch pwned)",
	"`touch pwned`",
	"line\ntouch pwned",
	"\ntouch pwned\n",
	"it's'; touch pwned; '",
	`say "hi"; touch pwned; "`,
	"a && touch pwned",
	"a || touch pwned",
	"a | tee pwned",
	"> pwned",
	"< /etc/passwd",
	"'\\''; touch pwned #",
	`\'; touch pwned; \'`,
	`"$(touch pwned)"`,
	"${IFS}touch${IFS}pwned",
	"$HOME $0 $1 $@ $* $# $? $$ $!",
	"* ? [a-z] ~root",
	"trailing backslash\\",
	"\\\"\\'\\\\",
	"-n",
	"--help",
	"%s%d%%",
	"{{ v }}",
	"}}{{",
	"é ü 中文 🙂",
	"tab\there\r\n",
	"'", `"`, "\\", "$", "`", "#", "&", ";", "|", "(", ")",
	"\n\n\n",
}

// shells are the shells the agent may meet as sh: dash (Debian's sh),
// bash in POSIX mode (sh on Amazon Linux and RHEL) and bash itself.
func shells(t *testing.T) [][]string {
	var out [][]string
	for _, s := range [][]string{{"sh"}, {"dash"}, {"bash", "--posix"}, {"bash"}} {
		if _, err := exec.LookPath(s[0]); err == nil {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		t.Skip("no POSIX shell on this machine")
	}
	return out
}

// TestLinuxCommandsInjection renders documents whose commands print a
// parameter in each quoting context, runs them with sh -c, and checks that
// the output is the value byte for byte and that nothing else ran.
func TestLinuxCommandsInjection(t *testing.T) {
	templates := []struct {
		commands string
		want     func(v string) string
	}{
		{`printf %s {{ v }}`, func(v string) string { return v }},
		{`printf %s {{v}}`, func(v string) string { return v }},
		{`printf '%s|' {{ v }} {{ v }}`, func(v string) string { return v + "|" + v + "|" }},
		{`printf %s "{{ v }}"`, func(v string) string { return v }},
		{`printf %s "<{{ v }}>"`, func(v string) string { return "<" + v + ">" }},
		{`printf %s '<{{ v }}>'`, func(v string) string { return "<" + v + ">" }},
		{`printf %s x{{ v }}y`, func(v string) string { return "x" + v + "y" }},
		{`printf %s "$(printf %s {{ v }}; printf .)"`, func(v string) string { return v + "." }},
		{`x={{ v }}; printf %s "$x"`, func(v string) string { return v }},
		{"true # note\nprintf %s {{ v }} && printf %s \"{{ v }}\"", func(v string) string { return v + v }},
	}
	for _, sh := range shells(t) {
		for _, tmpl := range templates {
			t.Run(strings.Join(sh, " ")+"/"+tmpl.commands, func(t *testing.T) {
				content, _ := json.Marshal(map[string]any{
					"schemaVersion": "1.0",
					"sessionType":   SessionInteractiveCommands,
					"parameters":    map[string]any{"v": map[string]any{"type": "String"}},
					"properties":    map[string]any{"linux": map[string]any{"commands": tmpl.commands}},
				})
				d := mustParse(t, string(content), "JSON")
				for _, v := range hostile {
					params, err := d.ResolveParameters(map[string][]string{"v": {v}})
					if err != nil {
						t.Fatalf("value %q: %v", v, err)
					}
					cp, err := d.LinuxCommands(params)
					if err != nil {
						t.Fatalf("value %q: %v", v, err)
					}
					dir := t.TempDir()
					args := slices.Concat(sh[1:], []string{"-c", cp.Commands})
					cmd := exec.Command(sh[0], args...)
					cmd.Dir = dir
					var stdout, stderr bytes.Buffer
					cmd.Stdout, cmd.Stderr = &stdout, &stderr
					if err := cmd.Run(); err != nil {
						t.Errorf("value %q: %s -c %q: %v: %s", v, sh[0], cp.Commands, err, stderr.String())
						continue
					}
					if got, want := stdout.String(), tmpl.want(v); got != want {
						t.Errorf("value %q: %s -c %q printed %q, want %q", v, sh[0], cp.Commands, got, want)
					}
					if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
						t.Errorf("value %q: %s -c %q ran an injected command", v, sh[0], cp.Commands)
					}
				}
			})
		}
	}
}

// TestRenderIsAWSText shows the difference LinuxCommands makes: Render,
// AWS's substitution, leaves the same value as shell syntax.
func TestRenderIsAWSText(t *testing.T) {
	d := mustParse(t, interactiveJSON, "JSON")
	params, err := d.ResolveParameters(map[string][]string{"logpath": {"/var/log/a.log"}})
	if err != nil {
		t.Fatal(err)
	}
	params["logpath"] = "x; rm -rf /" // as if no pattern guarded it
	raw, err := d.Render(params)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"tail -f x; rm -rf /"`) {
		t.Errorf("Render: %s", raw)
	}
	cp, err := d.LinuxCommands(params)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Commands != `tail -f 'x; rm -rf /'` {
		t.Errorf("LinuxCommands: %s", cp.Commands)
	}
}
