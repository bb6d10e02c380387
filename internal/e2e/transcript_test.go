package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/creack/pty"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/asciicast"
	"github.com/tetherhq/tether/internal/testenv"
)

// storedSession waits until the session's transcript is stored and returns
// its DescribeSessions entry.
func storedSession(t *testing.T, s *testenv.Server, sid string) api.Session {
	t.Helper()
	var got api.Session
	testenv.Eventually(t, 90*time.Second, func() error {
		var out api.DescribeSessionsOutput
		s.JSON(&out, "describe-sessions", "--state", "History", "--output", "json")
		for _, ss := range out.Sessions {
			if ss.SessionID == sid {
				if ss.OutputURL == nil || ss.OutputURL.S3OutputURL == "" {
					return fmt.Errorf("session %s (%s) has no OutputUrl yet", sid, ss.Status)
				}
				got = ss
				return nil
			}
		}
		return fmt.Errorf("session %s not in History yet", sid)
	})
	return got
}

// castOutput downloads a transcript, checks it is valid asciicast v2 with
// times that never go back, and returns its header, output and events.
func castOutput(t *testing.T, s *testenv.Server, sid string) (asciicast.Header, string, []asciicast.Event) {
	t.Helper()
	r := s.CLI("", "sessions", "download", sid)
	if r.Code != 0 {
		t.Fatalf("sessions download: %d %s", r.Code, r.Stderr)
	}
	rd, err := asciicast.NewReader(strings.NewReader(r.Stdout))
	if err != nil {
		t.Fatalf("transcript header: %v\n%s", err, r.Stdout)
	}
	var out strings.Builder
	var evs []asciicast.Event
	for {
		ev, err := rd.Next() // checks JSON, codes and monotonic times
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("transcript: %v\n%s", err, r.Stdout)
		}
		evs = append(evs, ev)
		if ev.Code == asciicast.Output {
			out.WriteString(ev.Data)
		}
	}
	if rd.Header.Tether == nil || rd.Header.Tether.SessionID != sid {
		t.Fatalf("transcript header names %+v, want session %s", rd.Header.Tether, sid)
	}
	return rd.Header, out.String(), evs
}

var sessionIDRe = regexp.MustCompile(`Starting session with SessionId: (\S+)`)

func TestTranscriptMatchesTerminal(t *testing.T) {
	s := testenv.StartDev(t)
	tm := startTerm(t, s, 24, 80, "start-session", "--target", s.InstanceID)
	n := tm.Expect(0, `Starting session with SessionId: \S+`)
	sid := sessionIDRe.FindStringSubmatch(tm.Output())[1]
	n = tm.Expect(n, `[$#] $`)
	tm.Send("printf 'caf\\303\\251 \\033[1mbold\\033[0m %s\\n' marker-$((6*7))\r")
	n = tm.Expect(n, `marker-42`)
	if err := pty.Setsize(tm.F, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	tm.Cmd.Process.Signal(syscall.SIGWINCH)
	// The resize travels to the agent on its own; ask until it has landed.
	testenv.Eventually(t, 30*time.Second, func() error {
		tm.Send("stty size\r")
		time.Sleep(300 * time.Millisecond)
		if !strings.Contains(tm.Output()[n:], "40 120") {
			return errors.New("the terminal is not 40x120 yet")
		}
		return nil
	})
	tm.Send("exit 7\r")
	if code := tm.ExitCode(60 * time.Second); code != 7 {
		t.Fatalf("exit %d\n%s", code, tm.Output())
	}

	ss := storedSession(t, s, sid)
	if !strings.HasPrefix(ss.OutputURL.S3OutputURL, "file://"+s.DataDir) || !strings.HasSuffix(ss.OutputURL.S3OutputURL, "/"+sid+".cast") {
		t.Errorf("S3OutputUrl %q, want a file:// URL in the data dir ending in /%s.cast", ss.OutputURL.S3OutputURL, sid)
	}
	h, out, evs := castOutput(t, s, sid)
	if h.Version != 2 || h.Width != 80 || h.Height != 24 || h.Tether.RunAsUser == "" {
		t.Errorf("header %+v", h)
	}
	// The terminal showed the CLI's own lines, then exactly the session's
	// output: the transcript must be that output, byte for byte.
	term := tm.Output()
	if len(out) < 20 || !strings.Contains(term, out) {
		t.Fatalf("the transcript's output is not what the terminal showed.\ntranscript: %q\nterminal: %q", out, term)
	}
	for _, want := range []string{"café \x1b[1mbold\x1b[0m marker-42", "40 120", "exit"} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q: %q", want, out)
		}
	}
	var resized bool
	for _, ev := range evs {
		resized = resized || ev.Code == asciicast.Resize && ev.Data == "120x40"
		if ev.Code == asciicast.Input {
			t.Errorf("input recorded without recordInput: %q", ev.Data)
		}
	}
	if !resized {
		t.Errorf("no resize event 120x40 in %v", evs)
	}
	// The plain-text copy sits next to it, as AWS's .log does.
	logPath := strings.TrimSuffix(strings.TrimPrefix(ss.OutputURL.S3OutputURL, "file://"), ".cast") + ".log"
	b, err := os.ReadFile(logPath)
	if err != nil || !strings.Contains(string(b), "café bold marker-42\n") {
		t.Errorf("plain-text log %s: %v %q", logPath, err, b)
	}
	r := s.CLI("", "sessions", "download", sid, "--format", "log")
	if r.Code != 0 || r.Stdout != string(b) {
		t.Errorf("download --format log differs from the stored .log: %d %q", r.Code, r.Stderr)
	}
	// replay --raw prints the output; replay at speed 1000 plays it.
	for _, args := range [][]string{{"--raw"}, {"--speed", "1000", "--idle-limit", "10ms"}} {
		r := s.CLI("", append([]string{"sessions", "replay", sid}, args...)...)
		if r.Code != 0 || r.Stdout != out {
			t.Errorf("replay %v: %d %q %s", args, r.Code, r.Stdout, r.Stderr)
		}
	}
}

// pipedSession runs `tether start-session` with a pipe for stdin.
type pipedSession struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	mu    sync.Mutex
	out   strings.Builder
	seen  map[string]time.Time // marker → when the client printed it
	done  chan struct{}
}

var markerRe = regexp.MustCompile(`mark-[0-9a-z-]+`)

func startPiped(t *testing.T, s *testenv.Server, target string) *pipedSession {
	t.Helper()
	cmd := exec.Command(s.Bins.CLI, "start-session", "--target", target)
	cmd.Env = append(os.Environ(), s.Env()...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ps := &pipedSession{cmd: cmd, stdin: in, seen: map[string]time.Time{}, done: make(chan struct{})}
	go func() {
		defer close(ps.done)
		b := make([]byte, 4096)
		for {
			n, err := out.Read(b)
			now := time.Now()
			ps.mu.Lock()
			ps.out.Write(b[:n])
			for _, m := range markerRe.FindAllString(ps.out.String(), -1) {
				if _, ok := ps.seen[m]; !ok {
					ps.seen[m] = now
				}
			}
			ps.mu.Unlock()
			if err != nil {
				cmd.Wait()
				return
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-ps.done
	})
	return ps
}

func (ps *pipedSession) run(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(ps.stdin, line+"\n"); err != nil {
		t.Fatal(err)
	}
}

func (ps *pipedSession) waitFor(t *testing.T, marker string) time.Time {
	t.Helper()
	var at time.Time
	testenv.Eventually(t, 45*time.Second, func() error {
		ps.mu.Lock()
		defer ps.mu.Unlock()
		var ok bool
		if at, ok = ps.seen[marker]; !ok {
			return fmt.Errorf("no %s in the session's output yet: %q", marker, ps.out.String())
		}
		return nil
	})
	return at
}

// activeSession returns the id of target's only active session.
func activeSession(t *testing.T, s *testenv.Server, target string) string {
	t.Helper()
	var sid string
	testenv.Eventually(t, 30*time.Second, func() error {
		var out api.DescribeSessionsOutput
		s.JSON(&out, "describe-sessions", "--state", "Active", "--output", "json")
		for _, ss := range out.Sessions {
			if ss.Target == target {
				sid = ss.SessionID
				return nil
			}
		}
		return errors.New("no active session yet")
	})
	return sid
}

func TestTranscriptSurvivesAgentKill(t *testing.T) {
	s := testenv.StartDev(t)
	a := s.StartAgent("crashy")
	ps := startPiped(t, s, a.InstanceID)
	sid := activeSession(t, s, a.InstanceID)
	ps.run(t, "echo mark-one; echo mark-two")
	ps.waitFor(t, "mark-two")
	// Everything the user saw must survive the agent dying right now.
	s.RestartAgent(a, syscall.SIGKILL)
	storedSession(t, s, sid)
	_, out, _ := castOutput(t, s, sid)
	if !strings.Contains(out, "mark-one\nmark-two\n") {
		t.Fatalf("transcript after the agent was killed: %q", out)
	}
	// The spool is gone once the server has stored it.
	testenv.Eventually(t, 30*time.Second, func() error {
		left, _ := filepath.Glob(filepath.Join(a.StateDir, "transcripts", "*"))
		if len(left) > 0 {
			return fmt.Errorf("spool still holds %v", left)
		}
		return nil
	})
}

func TestTranscriptSurvivesServerRestart(t *testing.T) {
	s := testenv.StartDev(t)
	a := s.StartAgent("steady")
	ps := startPiped(t, s, a.InstanceID)
	sid := activeSession(t, s, a.InstanceID)
	ps.run(t, "echo mark-before-crash")
	ps.waitFor(t, "mark-before-crash")
	// The server dies without a word; the session is cut.
	s.Restart(syscall.SIGKILL)
	<-ps.done
	s.WaitPing(a.InstanceID, "Online")
	storedSession(t, s, sid)
	_, out, _ := castOutput(t, s, sid)
	if !strings.Contains(out, "mark-before-crash\n") {
		t.Fatalf("transcript after a server crash: %q", out)
	}
	// And a session after the restart records as usual.
	ps2 := startPiped(t, s, a.InstanceID)
	sid2 := activeSession(t, s, a.InstanceID)
	ps2.run(t, "echo mark-after; exit")
	ps2.waitFor(t, "mark-after")
	storedSession(t, s, sid2)
	if _, out, _ := castOutput(t, s, sid2); !strings.Contains(out, "mark-after") {
		t.Fatalf("transcript after the restart: %q", out)
	}
}

func TestLiveTail(t *testing.T) {
	s := testenv.StartDev(t)
	ps := startPiped(t, s, s.InstanceID)
	sid := activeSession(t, s, s.InstanceID)
	tail := exec.Command(s.Bins.CLI, "sessions", "tail", sid)
	tail.Env = append(os.Environ(), s.Env()...)
	tout, err := tail.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tail.Process.Kill(); tail.Wait() })
	var mu sync.Mutex
	tailSeen := map[string]time.Time{}
	var tailOut strings.Builder
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := tout.Read(b)
			now := time.Now()
			mu.Lock()
			tailOut.Write(b[:n])
			for _, m := range markerRe.FindAllString(tailOut.String(), -1) {
				if _, ok := tailSeen[m]; !ok {
					tailSeen[m] = now
				}
			}
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	var lags []time.Duration
	for i := range 5 {
		m := fmt.Sprintf("mark-tail-%d", i)
		ps.run(t, "echo "+m)
		shown := ps.waitFor(t, m)
		var tailed time.Time
		testenv.Eventually(t, 30*time.Second, func() error {
			mu.Lock()
			defer mu.Unlock()
			var ok bool
			if tailed, ok = tailSeen[m]; !ok {
				return fmt.Errorf("tail has not shown %s: %q", m, tailOut.String())
			}
			return nil
		})
		lags = append(lags, max(0, tailed.Sub(shown)))
		time.Sleep(300 * time.Millisecond)
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	t.Logf("tail lag behind the session's own client: %v", lags)
	// The bound: output shows in the tail within one second (the
	// median of five, so one scheduling hiccup on a loaded CI does not
	// decide).
	if lags[2] > time.Second {
		t.Errorf("median tail lag %v, want under 1s (all: %v)", lags[2], lags)
	}
	ps.run(t, "exit")
	// tail ends by itself once the transcript is stored.
	done := make(chan error, 1)
	go func() { done <- tail.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("tail: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Error("tail still running a minute after the session ended")
	}
}

func TestRecordingFailsClosed(t *testing.T) {
	s := testenv.StartDev(t)
	// An agent whose disk is "full": it wants more free space than exists.
	a := s.StartAgentWith("full-disk", []string{"--recording-min-free", "1000000000"})
	r := s.CLI("echo should-not-run\n", "start-session", "--target", a.InstanceID)
	if r.Code == 0 || strings.Contains(r.Stdout, "should-not-run") || !strings.Contains(r.Stderr, "cannot record") || !strings.Contains(r.Stderr, "free") {
		t.Fatalf("session on an agent that cannot record: exit %d\nstdout %q\nstderr %q", r.Code, r.Stdout, r.Stderr)
	}
	// The preference recordingFailOpen lets it run, unrecorded.
	setPreferences(t, s, `{"recordingFailOpen": true, "recordInput": true}`)
	r = s.CLI("echo ran-anyway\n", "start-session", "--target", a.InstanceID)
	if r.Code != 0 || !strings.Contains(r.Stdout, "ran-anyway") {
		t.Fatalf("fail-open session: exit %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	// recordInput puts what was typed into the transcript as "i" events.
	ps := startPiped(t, s, s.InstanceID)
	sid := activeSession(t, s, s.InstanceID)
	ps.run(t, "echo mark-typed; exit")
	ps.waitFor(t, "mark-typed")
	storedSession(t, s, sid)
	_, _, evs := castOutput(t, s, sid)
	var in strings.Builder
	for _, ev := range evs {
		if ev.Code == asciicast.Input {
			in.WriteString(ev.Data)
		}
	}
	if !strings.Contains(in.String(), "echo mark-typed; exit\n") {
		t.Fatalf("input events %q", in.String())
	}
}

func TestTranscriptToS3(t *testing.T) {
	s3s := testenv.StartS3Server(t)
	s := testenv.StartDevWith(t, testenv.Options{Env: s3s.Env()})
	setPreferences(t, s, fmt.Sprintf(`{"s3BucketName": %q, "s3KeyPrefix": "prod/sessions/", "s3EncryptionEnabled": true}`, s3s.Bucket))
	r := s.CLI("echo to-the-bucket\n", "start-session", "--target", s.InstanceID)
	if r.Code != 0 || !strings.Contains(r.Stdout, "to-the-bucket") {
		t.Fatalf("session: %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	var hist api.DescribeSessionsOutput
	s.JSON(&hist, "describe-sessions", "--state", "History", "--output", "json")
	if len(hist.Sessions) != 1 {
		t.Fatalf("history: %+v", hist.Sessions)
	}
	sid := hist.Sessions[0].SessionID
	ss := storedSession(t, s, sid)
	wantURL := s3s.Endpoint + "/" + s3s.Bucket + "/prod/sessions/" + sid + ".cast"
	if ss.OutputURL.S3OutputURL != wantURL {
		t.Errorf("S3OutputUrl %q, want %q", ss.OutputURL.S3OutputURL, wantURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, ext := range []string{".cast", ".log"} {
		key := "prod/sessions/" + sid + ext
		obj, err := s3s.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: &s3s.Bucket, Key: &key})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		b, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		if !strings.Contains(string(b), "to-the-bucket") {
			t.Errorf("%s: %q", key, b)
		}
		// versitygw does not report encryption back; that the SSE header is
		// sent is internal/blob's TestS3ServerSideEncryption.
		if ext == ".cast" && (obj.ContentType == nil || *obj.ContentType != "application/x-asciicast") {
			t.Errorf("%s content type %v", key, obj.ContentType)
		}
	}
	// Replay reads it back from the bucket.
	r = s.CLI("", "sessions", "replay", sid, "--raw")
	if r.Code != 0 || !strings.Contains(r.Stdout, "to-the-bucket") {
		t.Errorf("replay from S3: %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
}
