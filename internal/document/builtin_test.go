package document

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestBuiltinsParse(t *testing.T) {
	want := []string{
		"SSM-SessionManagerRunShell", "AWS-StartSSHSession", "AWS-StartPortForwardingSession",
		"AWS-StartPortForwardingSessionToRemoteHost", "Tether-StartPortForwardingSessionMulti", "AWS-StartInteractiveCommand",
		"AWS-StartNonInteractiveCommand", "AWS-PasswordReset",
	}
	var names []string
	for _, b := range Builtins() {
		names = append(names, b.Name)
		t.Run(b.Name, func(t *testing.T) {
			if b.DocumentFormat != FormatJSON || !json.Valid([]byte(b.Content)) {
				t.Fatalf("format %q, valid JSON %v", b.DocumentFormat, json.Valid([]byte(b.Content)))
			}
			d := mustParse(t, b.Content, b.DocumentFormat)
			if d.Description != b.Description {
				t.Errorf("description %q, Builtin says %q", d.Description, b.Description)
			}
			if got, ok := FindBuiltin(b.Name); !ok || got != b {
				t.Errorf("FindBuiltin(%q) = %+v, %v", b.Name, got, ok)
			}
		})
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("builtins %q, want %q", names, want)
	}
	if _, ok := FindBuiltin("AWS-RunShellScript"); ok {
		t.Error("FindBuiltin found a document Tether does not have")
	}
}

func builtin(t *testing.T, name string) *Document {
	t.Helper()
	b, ok := FindBuiltin(name)
	if !ok {
		t.Fatalf("no builtin %s", name)
	}
	return mustParse(t, b.Content, b.DocumentFormat)
}

func TestBuiltinDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   map[string][]string
		want map[string]string
		port PortProperties
	}{
		{name: "AWS-StartPortForwardingSession", want: map[string]string{"portNumber": "80", "localPortNumber": "0"},
			port: PortProperties{PortNumber: "80", Type: "LocalPortForwarding", LocalPortNumber: "0"}},
		{name: "AWS-StartSSHSession", want: map[string]string{"portNumber": "22"},
			port: PortProperties{PortNumber: "22"}},
		{name: "AWS-StartSSHSession", in: map[string][]string{"portNumber": {"2222"}}, want: map[string]string{"portNumber": "2222"},
			port: PortProperties{PortNumber: "2222"}},
		{name: "AWS-StartPortForwardingSessionToRemoteHost", in: map[string][]string{"host": {"db.internal"}, "portNumber": {"5432"}},
			want: map[string]string{"portNumber": "5432", "localPortNumber": "0", "host": "db.internal"},
			port: PortProperties{PortNumber: "5432", Type: "LocalPortForwarding", LocalPortNumber: "0", Host: "db.internal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := builtin(t, tt.name)
			got, err := d.ResolveParameters(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("resolved %q, want %q", got, tt.want)
			}
			pp, err := d.Port(got)
			if err != nil {
				t.Fatal(err)
			}
			if pp != tt.port {
				t.Errorf("port %+v, want %+v", pp, tt.port)
			}
		})
	}

	remote := builtin(t, "AWS-StartPortForwardingSessionToRemoteHost")
	_, err := remote.ResolveParameters(nil)
	wantError(t, err, CodeValidation, `parameter "host": required`)
	_, err = remote.ResolveParameters(map[string][]string{"host": {"db;rm"}})
	wantError(t, err, CodeValidation, `parameter "host": value "db;rm" does not match allowedPattern`)

	shell := builtin(t, "SSM-SessionManagerRunShell")
	if want := (Inputs{S3EncryptionEnabled: true, CloudWatchEncryptionEnabled: true, IdleSessionTimeout: "20"}); shell.Inputs != want {
		t.Errorf("preferences %+v, want %+v", shell.Inputs, want)
	}
}

func TestBuiltinCommands(t *testing.T) {
	for _, name := range []string{"AWS-StartInteractiveCommand", "AWS-StartNonInteractiveCommand"} {
		d := builtin(t, name)
		_, err := d.ResolveParameters(nil)
		wantError(t, err, CodeValidation, `parameter "command": required`)
		params, err := d.ResolveParameters(map[string][]string{"command": {"bash -l"}})
		if err != nil {
			t.Fatal(err)
		}
		cp, err := d.LinuxCommands(params)
		if err != nil {
			t.Fatal(err)
		}
		// The command is the whole parameter: it runs as given.
		if cp != (CommandProperties{Commands: "bash -l"}) {
			t.Errorf("%s: %+v", name, cp)
		}
	}

	reset := builtin(t, "AWS-PasswordReset")
	params, err := reset.ResolveParameters(map[string][]string{"username": {"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := reset.LinuxCommands(params)
	if err != nil {
		t.Fatal(err)
	}
	if cp != (CommandProperties{Commands: "passwd 'alice'", RunAsElevated: true}) {
		t.Errorf("password reset: %+v", cp)
	}
	_, err = reset.ResolveParameters(map[string][]string{"username": {"alice; id"}})
	wantError(t, err, CodeValidation, `parameter "username": value "alice; id" does not match allowedPattern`)
	_, err = reset.ResolveParameters(map[string][]string{"username": {""}})
	wantError(t, err, CodeValidation, `parameter "username": value "" has 0 characters; minChars is 1`)
}
