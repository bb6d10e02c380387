package document

import (
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	d := mustParse(t, `{
  "schemaVersion": "1.0",
  "sessionType": "Standard_Stream",
  "inputs": {},
  "parameters": {
    "a": {"type": "String", "default": "A"},
    "b": {"type": "String"},
    "n": {"type": "Integer", "default": 3}
  },
  "properties": {
    "z": "{{ a }}",
    "exact": "{{b}}",
    "spaced": "{{   a   }}",
    "text": "pre-{{a}}-{{ b }}-{{ n }}-post",
    "list": ["{{ n }}", 7, true, null, {"k": "{{a}}{{a}}"}],
    "literal": "{{ .Go }} {{ }} {{a-b}}"
  }
}`, "JSON")
	tests := []struct {
		name   string
		params map[string]string
		want   string
	}{
		{"values", map[string]string{"a": "x", "b": "y", "n": "1"},
			`{"z":"x","exact":"y","spaced":"x","text":"pre-x-y-1-post","list":["1",7,true,null,{"k":"xx"}],"literal":"{{ .Go }} {{ }} {{a-b}}"}`},
		{"defaults fill in", map[string]string{"b": "y"},
			`{"z":"A","exact":"y","spaced":"A","text":"pre-A-y-3-post","list":["3",7,true,null,{"k":"AA"}],"literal":"{{ .Go }} {{ }} {{a-b}}"}`},
		{"one pass", map[string]string{"a": "{{ b }}", "b": "<&>\"\n"},
			`{"z":"{{ b }}","exact":"<&>\"\n","spaced":"{{ b }}","text":"pre-{{ b }}-<&>\"\n-3-post","list":["3",7,true,null,{"k":"{{ b }}{{ b }}"}],"literal":"{{ .Go }} {{ }} {{a-b}}"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.Render(tt.params)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	_, err := d.Render(map[string]string{"a": "x"})
	wantError(t, err, CodeValidation, `parameter "b": required`)

	port := mustParse(t, portJSON, "JSON")
	got, err := port.Render(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"portNumber":"5432","type":"LocalPortForwarding","localPortNumber":"0","host":"db.internal"}`; string(got) != want {
		t.Errorf("port: got %s, want %s", got, want)
	}
	if string(port.Properties) != `{"portNumber":"5432","type":"LocalPortForwarding","localPortNumber":"{{ localPortNumber }}","host":"{{ host }}"}` {
		t.Errorf("Properties changed by Render: %s", port.Properties)
	}

	none := mustParse(t, standardYAML, "YAML")
	if got, err := none.Render(nil); got != nil || err != nil {
		t.Errorf("no properties: got %s, %v", got, err)
	}
}

func TestLinuxCommands(t *testing.T) {
	doc := func(commands string) string {
		return `{"schemaVersion":"1.0","sessionType":"NonInteractiveCommands",
			"parameters":{"v":{"type":"String","default":"d"},"w":{"type":"String","default":"e"}},
			"properties":{"linux":{"commands":` + commands + `,"runAsElevated":true,"separateOutputStream":true},
				"windows":{"commands":"echo {{v}}"}}}`
	}
	tests := []struct {
		name, commands string
		params         map[string]string
		want           string
	}{
		{"unquoted", `"tail -f {{ v }}"`, map[string]string{"v": "a b"}, `tail -f 'a b'`},
		{"adjacent", `"--user={{v}}:{{w}}"`, map[string]string{"v": "x"}, `--user='x':'e'`},
		{"single quote in value", `"echo {{v}}"`, map[string]string{"v": "it's"}, `echo 'it'\''s'`},
		{"inside double quotes", `"echo \"a {{v}} b\""`, map[string]string{"v": "$(id)"}, `echo "a "'$(id)'" b"`},
		{"inside single quotes", `"echo 'a {{v}} b'"`, map[string]string{"v": "it's $x"}, `echo 'a it'\''s $x b'`},
		{"inside command substitution", `"echo \"$(basename {{v}})\""`, map[string]string{"v": "/a b"}, `echo "$(basename '/a b')"`},
		{"after a comment line", `"# show {{ w }}\necho {{ v }}"`, nil, ""},
		{"list joined", `["cd /tmp", "ls {{v}}"]`, nil, "cd /tmp\nls 'd'"},
		{"escaped backslash", `"echo \\\\{{v}}"`, nil, `echo \\'d'`},
		{"dollar words before", `"echo $HOME ${USER} $((1+2)) $(( $x * 2 )) {{v}}"`, nil, `echo $HOME ${USER} $((1+2)) $(( $x * 2 )) 'd'`},
		{"whole command", `"{{ v }}"`, map[string]string{"v": "bash -l; echo hi"}, `bash -l; echo hi`},
		{"go template", `"docker ps --format '{{.Names}}' {{v}}"`, nil, `docker ps --format '{{.Names}}' 'd'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse([]byte(doc(tt.commands)), "JSON")
			if tt.want == "" {
				wantError(t, err, CodeInvalidDocument, "properties.linux.commands: {{ w }} is inside a comment")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cp, err := d.LinuxCommands(tt.params)
			if err != nil {
				t.Fatal(err)
			}
			if cp.Commands != tt.want {
				t.Errorf("got  %s\nwant %s", cp.Commands, tt.want)
			}
			if !cp.RunAsElevated || !cp.SeparateOutputStream {
				t.Errorf("flags lost: %+v", cp)
			}
		})
	}

	windowsOnly := mustParse(t, `{"schemaVersion":"1.0","sessionType":"InteractiveCommands","properties":{"windows":{"commands":"dir"}}}`, "")
	_, err := windowsOnly.LinuxCommands(nil)
	wantError(t, err, CodeInvalidDocument, "properties.linux: the document has no commands for Linux")
	port := mustParse(t, portJSON, "JSON")
	_, err = port.LinuxCommands(nil)
	wantError(t, err, CodeInvalidDocument, "sessionType Port: has no commands")
	required := mustParse(t, `{"schemaVersion":"1.0","sessionType":"InteractiveCommands","parameters":{"u":{"type":"String"}},"properties":{"linux":{"commands":"id {{u}}"}}}`, "")
	_, err = required.LinuxCommands(map[string]string{})
	wantError(t, err, CodeValidation, `parameter "u": required`)
}

func TestPort(t *testing.T) {
	d := mustParse(t, portJSON, "JSON")
	got, err := d.Port(map[string]string{"host": "pg.example", "localPortNumber": "15432"})
	if err != nil {
		t.Fatal(err)
	}
	want := PortProperties{PortNumber: "5432", Type: "LocalPortForwarding", LocalPortNumber: "15432", Host: "pg.example"}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	_, err = d.Port(map[string]string{"localPortNumber": "70000"})
	wantError(t, err, CodeValidation, `properties.localPortNumber "70000": must be a port number from 0 to 65535`)

	free := mustParse(t, `{"schemaVersion":"1.0","sessionType":"Port","parameters":{"p":{"type":"String"}},
		"properties":{"portNumber":"{{p}}","localUnixSocket":"/run/{{p}}.sock","localConnectionType":"unix"}}`, "")
	for _, bad := range []string{"0", "", "ssh", "65536", "22; x"} {
		_, err := free.Port(map[string]string{"p": bad})
		wantError(t, err, CodeValidation, "properties.portNumber", "must be a port number from 1 to 65535")
	}
	got, err = free.Port(map[string]string{"p": "22"})
	if err != nil || got != (PortProperties{PortNumber: "22", LocalUnixSocket: "/run/22.sock", LocalConnectionType: "unix"}) {
		t.Errorf("got %+v, %v", got, err)
	}
	cmd := mustParse(t, interactiveJSON, "JSON")
	_, err = cmd.Port(nil)
	wantError(t, err, CodeInvalidDocument, "sessionType InteractiveCommands: has no port properties")
}

func TestScanShell(t *testing.T) {
	tests := []struct {
		tmpl string
		want []quoting // nil with err set
		err  string
	}{
		{tmpl: `a {{x}} "{{x}}" '{{x}}'`, want: []quoting{unquoted, inDouble, inSingle}},
		{tmpl: `"$(echo {{x}} "{{x}}")" {{x}}`, want: []quoting{unquoted, inDouble, unquoted}},
		{tmpl: `echo "a\"{{x}}" 'b\'{{x}}`, want: []quoting{inDouble, unquoted}},
		{tmpl: "a#b {{x}} # c\n{{x}}", want: []quoting{unquoted, unquoted}},
		{tmpl: "echo $(date)#'\n{{x}}'", want: []quoting{inSingle}},
		{tmpl: "echo $((1))#'\n{{x}}'", want: []quoting{inSingle}},
		{tmpl: "(echo a)#'\n{{x}}", want: []quoting{unquoted}},
		{tmpl: "echo a >#'\n{{x}}'", err: "after a # that shells may or may not read as a comment"},
		{tmpl: "echo a \\\n#'\n{{x}}'", err: "after a # that shells may or may not read as a comment"},
		{tmpl: "((1))#'\n{{x}}'", err: "after a # that shells may or may not read as a comment"},
		{tmpl: `echo "$(x=1;case $x in 1) echo;; esac)" {{x}}`, err: "after a case statement"},
		{tmpl: `echo $$ $# ${#x} ${x:-y} {{x}}`, want: []quoting{unquoted}},
		{tmpl: "echo `date` {{x}}", want: []quoting{unquoted}},
		{tmpl: `(( i++ )); echo {{x}}`, want: []quoting{unquoted}},
		{tmpl: `echo {{x}}; cat <<EOF` + "\nplain\nEOF", want: []quoting{unquoted}},
		{tmpl: `# {{x}}`, err: "inside a comment"},
		{tmpl: "echo `{{x}}`", err: "inside `...`"},
		{tmpl: `echo ${y:-{{x}}}`, err: "inside ${...}"},
		{tmpl: `echo $(( {{x}} + 1 ))`, err: "inside an arithmetic expression"},
		{tmpl: `(( {{x}} ))`, err: "inside an arithmetic expression"},
		{tmpl: `echo $[ {{x}} ]`, err: "inside an arithmetic expression"},
		{tmpl: `echo \{{x}}`, err: "directly after a backslash"},
		{tmpl: `echo "\{{x}}"`, err: "directly after a backslash"},
		{tmpl: `echo ${{x}}`, err: "directly after a $"},
		{tmpl: `echo "${{x}}"`, err: "directly after a $"},
		{tmpl: `echo ${y:-${{x}}}`, err: "directly after a $"},
		{tmpl: "cat <<EOF\n{{x}}\nEOF", err: "after a here-document"},
		{tmpl: `echo $'\'' {{x}}`, err: "after $'...'"},
		{tmpl: `echo "$(case a in a) echo {{x}};; esac)"`, err: "after a case statement inside $(...)"},
		{tmpl: `echo ${y:-"}"} {{x}}`, err: "after quoting or expansion inside ${...}"},
		{tmpl: `echo $(( "1" )) {{x}}`, err: "after quoting or expansion inside an arithmetic expression"},
		{tmpl: "echo `echo \"` {{x}}", err: "unbalanced quote"},
		{tmpl: `echo {{x}} "`, err: "unterminated double quote"},
		{tmpl: `echo {{x}} $(ls`, err: "unterminated $( ... )"},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			refs := findRefs(tt.tmpl)
			got, err := scanShell(tt.tmpl, refs)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d references, want %d", len(got), len(tt.want))
			}
			for i, r := range got {
				if r.quoting != tt.want[i] || r.start != refs[i].start {
					t.Errorf("reference %d: quoting %d at %d, want %d at %d", i, r.quoting, r.start, tt.want[i], refs[i].start)
				}
			}
		})
	}
}
