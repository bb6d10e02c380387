package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/testenv"
)

// osUser creates a real OS user for the test and removes it afterwards.
func osUser(t *testing.T, extraGroup string) string {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	name := "tt" + hex.EncodeToString(b)
	args := []string{"--create-home", "--shell", "/bin/sh"}
	if extraGroup != "" {
		args = append(args, "--groups", extraGroup)
	}
	if out, err := exec.Command("useradd", append(args, name)...).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v %s", name, err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", "--remove", name).Run() })
	return name
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("run-as needs the agent to run as root (these tests create OS users); run the tests as root")
	}
}

// setPreferences stores the preferences document with these inputs.
func setPreferences(t *testing.T, s *testenv.Server, inputs string) {
	t.Helper()
	doc := filepath.Join(t.TempDir(), "prefs.json")
	os.WriteFile(doc, []byte(`{"schemaVersion":"1.0","description":"preferences","sessionType":"Standard_Stream","inputs":`+inputs+`}`), 0o600)
	r := s.CLI("", "update-document", "--name", "SSM-SessionManagerRunShell", "--content", "file://"+doc, "--document-version", "$LATEST")
	if r.Code != 0 {
		r = s.CLI("", "create-document", "--name", "SSM-SessionManagerRunShell", "--content", "file://"+doc)
	}
	if r.Code != 0 {
		t.Fatalf("store preferences: %d %s", r.Code, r.Stderr)
	}
	r = s.CLI("", "describe-document", "--name", "SSM-SessionManagerRunShell", "--output", "json")
	var d struct {
		Document struct{ LatestVersion string }
	}
	if err := jsonUnmarshal(r.Stdout, &d); err == nil && d.Document.LatestVersion != "" {
		s.CLI("", "update-document-default-version", "--name", "SSM-SessionManagerRunShell", "--document-version", d.Document.LatestVersion)
	}
}

func TestRunAs(t *testing.T) {
	needRoot(t)
	s := testenv.StartDev(t)
	whoami := "id -un; echo HOME=$HOME; id -Gn; env | grep -c TETHER_ || true\n"

	t.Run("run-as off: ssm-user, created with a sudoers drop-in", func(t *testing.T) {
		r := s.CLI(whoami+"sudo -n true && echo SUDO-OK\n", "start-session", "--target", s.InstanceID)
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, "ssm-user\nHOME=/home/ssm-user\n") || !strings.Contains(r.Stdout, "SUDO-OK") {
			t.Fatalf("code %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
		}
		st, err := os.Stat("/etc/sudoers.d/ssm-agent-users")
		if err != nil || st.Mode().Perm() != 0o440 {
			t.Fatalf("sudoers drop-in: %v %v", st, err)
		}
		b, _ := os.ReadFile("/etc/sudoers.d/ssm-agent-users")
		if string(b) != "ssm-user ALL=(ALL) NOPASSWD:ALL\n" {
			t.Fatalf("sudoers content %q", b)
		}
		if !strings.HasSuffix(r.Stdout, "0\nSUDO-OK\n") {
			t.Fatalf("agent variables leaked into the session: %q", r.Stdout)
		}
	})

	dflt := osUser(t, "")
	tagged := osUser(t, "users")
	setPreferences(t, s, fmt.Sprintf(`{"runAsEnabled":true,"runAsDefaultUser":%q,"idleSessionTimeout":"20"}`, dflt))

	t.Run("run-as default user", func(t *testing.T) {
		r := s.CLI(whoami, "start-session", "--target", s.InstanceID)
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, dflt+"\nHOME=/home/"+dflt+"\n") {
			t.Fatalf("code %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("the SSMSessionRunAs tag overrides it, with the user's groups", func(t *testing.T) {
		if r := s.CLI("", "iam", "tag-user", "--user-name", "admin", "--tags", "SSMSessionRunAs="+tagged); r.Code != 0 {
			t.Fatal(r.Stderr)
		}
		r := s.CLI(whoami, "start-session", "--target", s.InstanceID)
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, tagged+"\nHOME=/home/"+tagged+"\n") || !strings.Contains(r.Stdout, "users") {
			t.Fatalf("code %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("a group's tag applies to members without their own", func(t *testing.T) {
		grouped := osUser(t, "")
		for _, args := range [][]string{
			{"iam", "untag-user", "--user-name", "admin", "--tag-keys", "SSMSessionRunAs"},
			{"iam", "create-group", "--group-name", "runas-a"}, {"iam", "create-group", "--group-name", "runas-b"},
			{"iam", "tag-group", "--group-name", "runas-a", "--tags", "SSMSessionRunAs=" + grouped},
			{"iam", "tag-group", "--group-name", "runas-b", "--tags", "SSMSessionRunAs=" + tagged},
			{"iam", "add-user-to-group", "--group-name", "runas-b", "--user-name", "admin"},
			{"iam", "add-user-to-group", "--group-name", "runas-a", "--user-name", "admin"},
		} {
			if r := s.CLI("", args...); r.Code != 0 {
				t.Fatalf("%v: %s", args, r.Stderr)
			}
		}
		// First match by group name: runas-a.
		r := s.CLI(whoami, "start-session", "--target", s.InstanceID)
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, grouped+"\n") {
			t.Fatalf("code %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
		}
		// The user's own tag wins over its groups'.
		s.CLI("", "iam", "tag-user", "--user-name", "admin", "--tags", "SSMSessionRunAs="+tagged)
		r = s.CLI(whoami, "start-session", "--target", s.InstanceID)
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, tagged+"\n") {
			t.Fatalf("code %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("a missing user fails with its name and what to do", func(t *testing.T) {
		s.CLI("", "iam", "tag-user", "--user-name", "admin", "--tags", "SSMSessionRunAs=nosuchuser42")
		r := s.CLI(whoami, "start-session", "--target", s.InstanceID)
		if r.Code == 0 || !strings.Contains(r.Stderr, `"nosuchuser42" does not exist`) || strings.Contains(r.Stdout, "HOME=") {
			t.Fatalf("code %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("root is never a run-as target", func(t *testing.T) {
		s.CLI("", "iam", "tag-user", "--user-name", "admin", "--tags", "SSMSessionRunAs=root")
		r := s.CLI(whoami, "start-session", "--target", s.InstanceID)
		if r.Code == 0 || !strings.Contains(r.Stderr, "root is never a run-as target") || strings.Contains(r.Stdout, "HOME=") {
			t.Fatalf("code %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
		}
		var out api.DescribeSessionsOutput
		s.JSON(&out, "describe-sessions", "--state", "History")
		if len(out.Sessions) == 0 || out.Sessions[0].Status != "Failed" || !strings.Contains(out.Sessions[0].Details, "root") {
			t.Fatalf("history: %+v", out.Sessions[0])
		}
	})
	s.CLI("", "iam", "untag-user", "--user-name", "admin", "--tag-keys", "SSMSessionRunAs")
	if _, err := user.Lookup(dflt); err != nil {
		t.Fatal(err)
	}
}

func TestCommandsDocuments(t *testing.T) {
	needRoot(t)
	s := testenv.StartDev(t)
	dir := t.TempDir()
	logf := filepath.Join(dir, "app.log")
	os.WriteFile(logf, []byte("one\ntwo\nthree\nfour\n"), 0o644)
	os.Chmod(dir, 0o755)
	tail := `{"schemaVersion":"1.0","description":"last lines of a log","sessionType":"InteractiveCommands",
"parameters":{"logfile":{"type":"String","description":"log file","allowedPattern":"^/[a-zA-Z0-9/._-]+$"},
"lines":{"type":"String","default":"2","allowedPattern":"^[0-9]{1,4}$"}},
"properties":{"linux":{"commands":"tail -n {{ lines }} {{ logfile }}","runAsElevated":true}}}`
	p := filepath.Join(dir, "tail.json")
	os.WriteFile(p, []byte(tail), 0o600)
	if r := s.CLI("", "create-document", "--name", "Tail-Log", "--content", "file://"+p); r.Code != 0 {
		t.Fatalf("create-document: %s", r.Stderr)
	}

	t.Run("InteractiveCommands shows the log", func(t *testing.T) {
		r := s.CLI("", "start-session", "--target", s.InstanceID, "--document-name", "Tail-Log", "--parameters", "logfile="+logf)
		if r.Code != 0 || !strings.Contains(r.Stdout, "three") || !strings.Contains(r.Stdout, "four") || strings.Contains(r.Stdout, "two") {
			t.Fatalf("code %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("injection attempts are refused and leave no trace", func(t *testing.T) {
		marker := filepath.Join(dir, "pwned")
		for _, v := range []string{
			logf + "; touch " + marker, logf + "$(touch " + marker + ")", logf + "`touch " + marker + "`",
			logf + "\ntouch " + marker, logf + "' ; touch " + marker + " '", logf + `" ; touch ` + marker + ` "`,
			logf + " && touch " + marker, logf + " | tee " + marker,
		} {
			r := s.CLI("", "start-session", "--target", s.InstanceID, "--document-name", "Tail-Log", "--parameters", `{"logfile":[`+jsonString(v)+`]}`)
			if r.Code != 254 || !strings.Contains(r.Stderr, "ValidationException") {
				t.Errorf("value %q: code %d stderr %q", v, r.Code, r.Stderr)
			}
		}
		if r := s.CLI("", "start-session", "--target", s.InstanceID, "--document-name", "Tail-Log", "--parameters", "logfile="+logf+",bogus=1"); r.Code != 254 || !strings.Contains(r.Stderr, "InvalidDocument") {
			t.Errorf("unknown parameter: %d %s", r.Code, r.Stderr)
		}
		time.Sleep(200 * time.Millisecond) // nothing should happen; give it the chance
		if _, err := os.Stat(marker); err == nil {
			t.Fatal("an injection attempt ran on the host")
		}
	})
	t.Run("NonInteractiveCommands: streams apart and the exit code, byte for byte", func(t *testing.T) {
		doc := `{"schemaVersion":"1.0","description":"streams","sessionType":"NonInteractiveCommands",
"properties":{"linux":{"commands":"printf 'out1\\nout2'; printf 'err1\\n' >&2; exit 5","separateOutputStream":true}}}`
		p := filepath.Join(dir, "ni.json")
		os.WriteFile(p, []byte(doc), 0o600)
		if r := s.CLI("", "create-document", "--name", "Streams", "--content", "file://"+p); r.Code != 0 {
			t.Fatalf("create-document: %s", r.Stderr)
		}
		r := s.CLI("", "start-session", "--target", s.InstanceID, "--document-name", "Streams")
		if r.Code != 5 || r.Stdout != "out1\nout2" || r.Stderr != "err1\n" {
			t.Fatalf("code %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
		}
	})
}

func TestSessionTimeouts(t *testing.T) {
	s := testenv.StartDevWith(t, testenv.Options{Env: []string{"TETHER_TEST_TIMEOUT_UNIT=1s"}})
	setPreferences(t, s, `{"idleSessionTimeout":"2","maxSessionDuration":"4"}`)
	run := func(stdin string) (testenv.Result, api.Session) {
		t.Helper()
		cmd := exec.Command(s.Bins.CLI, "start-session", "--target", s.InstanceID)
		cmd.Env = append(os.Environ(), s.Env()...)
		in, _ := cmd.StdinPipe()
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		fmt.Fprint(in, stdin)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("session did not time out; output %q", out.String())
		}
		t.Logf("session ended after %v", time.Since(start).Round(100*time.Millisecond))
		var hist api.DescribeSessionsOutput
		s.JSON(&hist, "describe-sessions", "--state", "History")
		return testenv.Result{Stdout: out.String(), Stderr: errb.String(), Code: cmd.ProcessState.ExitCode()}, hist.Sessions[0]
	}
	t.Run("idle", func(t *testing.T) {
		r, h := run("echo started\n")
		if !strings.Contains(r.Stderr, "idle timeout") || h.Status != "Terminated" || !strings.Contains(h.Details, "idle timeout") || h.MaxSessionDuration != "4" {
			t.Fatalf("stderr %q history %+v", r.Stderr, h)
		}
	})
	t.Run("maximum duration", func(t *testing.T) {
		r, h := run("while true; do echo tick; sleep 0.5; done\n")
		if !strings.Contains(r.Stderr, "maximum session duration") || !strings.Contains(h.Details, "maximum session duration") || !strings.Contains(r.Stdout, "tick") {
			t.Fatalf("stderr %q history %+v", r.Stderr, h)
		}
	})
}

func TestShellProfile(t *testing.T) {
	s := testenv.StartDev(t)
	setPreferences(t, s, `{"shellProfile":{"linux":"export GREETING=hello-from-profile","windows":""}}`)
	r := s.CLI("echo $GREETING\n", "start-session", "--target", s.InstanceID)
	if r.Code != 0 || r.Stdout != "hello-from-profile\n" {
		t.Fatalf("code %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	// It does not apply to other documents' commands.
	doc := filepath.Join(t.TempDir(), "d.json")
	os.WriteFile(doc, []byte(`{"schemaVersion":"1.0","sessionType":"NonInteractiveCommands","properties":{"linux":{"commands":"echo [$GREETING]"}}}`), 0o600)
	if r := s.CLI("", "create-document", "--name", "Greet", "--content", "file://"+doc); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	if r := s.CLI("", "start-session", "--target", s.InstanceID, "--document-name", "Greet"); r.Code != 0 || r.Stdout != "[]\n" {
		t.Fatalf("commands document: code %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
	}
}
