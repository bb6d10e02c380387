package recording

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/asciicast"
	"github.com/tetherhq/tether/internal/blob"
	"github.com/tetherhq/tether/internal/bus/mem"
	"github.com/tetherhq/tether/internal/store"
	"github.com/tetherhq/tether/internal/store/sqlite"
)

const (
	sid      = "alice-0123456789abcdef0"
	instance = "mi-00000000000000001"
)

type fixture struct {
	svc     *Service
	st      store.Store
	dir     string
	local   *blob.Local
	sink    *bytes.Buffer
	mu      sync.Mutex
	acks    []api.RecordingAck
	ackWake chan struct{}
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "tether.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateSession(t.Context(), store.Session{ID: sid, Target: instance, Owner: "arn:aws:iam::111122223333:user/alice",
		Status: "Connected", StartDate: time.Now(), Transcript: store.Transcript{KeyPrefix: "logs/"}}); err != nil {
		t.Fatal(err)
	}
	local, err := blob.NewLocal(filepath.Join(dir, "transcripts"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	f := &fixture{st: st, dir: dir, local: local, sink: &bytes.Buffer{}, ackWake: make(chan struct{}, 100)}
	f.svc = f.restart(t)
	return f
}

// restart builds a new Service on the same data dir, as after a crash.
func (f *fixture) restart(t testing.TB) *Service {
	svc, err := New(Config{DataDir: f.dir, Store: f.st, Local: f.local, Bus: mem.New(), Region: "us-east-1",
		Sinks: []Sink{NewWriterSink(syncWriter{f}, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

type syncWriter struct{ f *fixture }

func (w syncWriter) Write(p []byte) (int, error) {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	return w.f.sink.Write(p)
}

func (f *fixture) send(svc *Service, inst string, h api.RecordingChunk, data string) api.RecordingAck {
	before := f.count()
	svc.HandleChunk(context.Background(), inst, api.EncodeRecordingChunk(h, []byte(data)), func(a api.RecordingAck) {
		f.mu.Lock()
		f.acks = append(f.acks, a)
		f.mu.Unlock()
		f.ackWake <- struct{}{}
	})
	for f.count() == before {
		<-f.ackWake
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.acks[len(f.acks)-1]
}

func (f *fixture) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.acks)
}

// waitAck waits for an acknowledgement that satisfies ok.
func (f *fixture) waitAck(t *testing.T, ok func(api.RecordingAck) bool) api.RecordingAck {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		f.mu.Lock()
		for _, a := range f.acks {
			if ok(a) {
				f.mu.Unlock()
				return a
			}
		}
		f.mu.Unlock()
		select {
		case <-f.ackWake:
		case <-deadline:
			t.Fatalf("no such acknowledgement in %+v", f.acks)
		}
	}
}

func castLines(t *testing.T) (header string, events []string) {
	var buf bytes.Buffer
	start := time.Unix(1700000000, 0)
	w, err := asciicast.NewWriter(&buf, asciicast.Header{Width: 80, Height: 24, Tether: &asciicast.Meta{SessionID: sid, RunAsUser: "ssm-user"}}, start)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []string{"$ echo one\r\n", "one\r\n", "\x1b[1mtwo\x1b[0m\ttab\r\n", "three\r\n"} {
		w.Write(start.Add(time.Duration(i+1)*time.Second), asciicast.Output, []byte(s))
	}
	lines := strings.SplitAfter(buf.String(), "\n")
	return lines[0], lines[1 : len(lines)-1]
}

func TestStreamStoreAndRead(t *testing.T) {
	f := newFixture(t)
	header, evs := castLines(t)
	chunk1 := header + evs[0] + evs[1]
	chunk2 := evs[2] + evs[3]
	if a := f.send(f.svc, instance, api.RecordingChunk{SessionID: sid, Kind: api.KindCast, Offset: -1}, ""); a.Offset != 0 || a.Error != "" {
		t.Fatalf("probe: %+v", a)
	}
	if a := f.send(f.svc, instance, api.RecordingChunk{SessionID: sid, Kind: api.KindCast, Offset: 0}, chunk1); a.Offset != int64(len(chunk1)) {
		t.Fatalf("chunk 1: %+v", a)
	}
	// A resent chunk (the agent did not see the ack) is not appended twice.
	if a := f.send(f.svc, instance, api.RecordingChunk{SessionID: sid, Kind: api.KindCast, Offset: 0}, chunk1); a.Offset != int64(len(chunk1)) {
		t.Fatalf("resent chunk 1: %+v", a)
	}
	// A gap is refused with the offset to resume from.
	if a := f.send(f.svc, instance, api.RecordingChunk{SessionID: sid, Kind: api.KindCast, Offset: int64(len(chunk1)) + 5}, chunk2); a.Offset != int64(len(chunk1)) || a.Error == "" {
		t.Fatalf("gap: %+v", a)
	}
	// Live reading sees what arrived so far.
	page, err := f.svc.readPage(t.Context(), sid, 0, 1<<20)
	if err != nil || page.Data != chunk1 || page.Complete || page.Stored {
		t.Fatalf("live page: %+v %v", page, err)
	}
	end := int64(len(chunk1) + len(chunk2))
	f.send(f.svc, instance, api.RecordingChunk{SessionID: sid, Kind: api.KindCast, Offset: int64(len(chunk1)), Complete: true}, chunk2)
	stored := f.waitAck(t, func(a api.RecordingAck) bool { return a.Stored })
	if stored.Offset != end || stored.Discard || !strings.HasSuffix(stored.OutputURL, "/logs/"+sid+".cast") {
		t.Fatalf("stored: %+v", stored)
	}
	sess, err := f.st.GetSession(t.Context(), sid)
	if err != nil || sess.Transcript.OutputURL != stored.OutputURL || sess.Transcript.Stored.IsZero() {
		t.Fatalf("session after storing: %+v %v", sess.Transcript, err)
	}
	rc, _, err := f.local.Get(t.Context(), "logs/"+sid+".cast")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	got.ReadFrom(rc)
	rc.Close()
	if got.String() != chunk1+chunk2 {
		t.Fatalf("stored cast %q", got.String())
	}
	rc, _, err = f.local.Get(t.Context(), "logs/"+sid+".log")
	if err != nil {
		t.Fatal(err)
	}
	got.Reset()
	got.ReadFrom(rc)
	rc.Close()
	if got.String() != "$ echo one\none\ntwo\ttab\nthree\n" {
		t.Fatalf("stored log %q", got.String())
	}
	// The live stream saw each line once, CloudWatch-shaped.
	f.mu.Lock()
	stream := f.sink.String()
	f.mu.Unlock()
	for _, want := range []string{`"eventVersion":"1.0"`, `"target":{"id":"` + instance + `"}`, `"runAsUser":"ssm-user"`, `"sessionData":["$ echo one","one"]`, `"sessionData":["two tab","three"]`} {
		if !strings.Contains(stream, want) {
			t.Errorf("stream lacks %s:\n%s", want, stream)
		}
	}
	// Stored: pages come from the blob store, Complete at the end.
	page, err = f.svc.readPage(t.Context(), sid, int64(len(header)), 1<<20)
	if err != nil || page.Data != chunk1[len(header):]+chunk2 || !page.Complete || !page.Stored {
		t.Fatalf("stored page: %+v %v", page, err)
	}
	// Staging is gone; asking again (a new control channel) says Stored.
	if _, err := os.Stat(filepath.Join(f.dir, "transcript-staging", sid+".cast")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("staging file left: %v", err)
	}
	if a := f.send(f.restart(t), instance, api.RecordingChunk{SessionID: sid, Kind: api.KindCast, Offset: -1}, ""); !a.Stored {
		t.Fatalf("probe after storing: %+v", a)
	}
}

func TestRestartKeepsStagedLines(t *testing.T) {
	f := newFixture(t)
	header, evs := castLines(t)
	f.send(f.svc, instance, api.RecordingChunk{SessionID: sid, Kind: api.KindCast, Offset: 0}, header+evs[0])
	// A crash mid-write leaves a torn line after the good ones.
	path := filepath.Join(f.dir, "transcript-staging", sid+".cast")
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.WriteString(`[2.0, "o", "tor`)
	fh.Close()
	svc := f.restart(t)
	good := int64(len(header + evs[0]))
	if a := f.send(svc, instance, api.RecordingChunk{SessionID: sid, Kind: api.KindCast, Offset: -1}, ""); a.Offset != good {
		t.Fatalf("probe after restart: %+v, want offset %d", a, good)
	}
	// Times still may not go back across the restart.
	if a := f.send(svc, instance, api.RecordingChunk{SessionID: sid, Kind: api.KindCast, Offset: good}, `[0.5, "o", "late"]`+"\n"); !a.Discard {
		t.Fatalf("an event older than the staged ones: %+v", a)
	}
	// What was staged before the restart is stored, .log included.
	f.waitAck(t, func(a api.RecordingAck) bool { return a.Stored })
	rc, _, err := f.local.Get(t.Context(), "logs/"+sid+".log")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	got.ReadFrom(rc)
	rc.Close()
	if got.String() != "$ echo one\n" {
		t.Fatalf("stored log after a restart %q", got.String())
	}
}

func TestHostileChunks(t *testing.T) {
	f := newFixture(t)
	header, evs := castLines(t)
	// Another instance's agent may not write this session's transcript.
	if a := f.send(f.svc, "mi-00000000000000002", api.RecordingChunk{SessionID: sid, Kind: api.KindCast, Offset: 0}, header); !a.Discard {
		t.Fatalf("another instance: %+v", a)
	}
	if a := f.send(f.svc, instance, api.RecordingChunk{SessionID: "alice-nosuchsession00", Kind: api.KindCast, Offset: 0}, header); !a.Discard {
		t.Fatalf("unknown session: %+v", a)
	}
	// Malformed payloads get no answer and change nothing.
	for _, p := range [][]byte{nil, []byte("{}"), []byte("no header line"), []byte(`{"SessionId":"../../etc","Kind":"cast","Offset":0}` + "\n")} {
		f.svc.HandleChunk(t.Context(), instance, p, func(a api.RecordingAck) { t.Errorf("answered %q with %+v", p, a) })
	}
	// A chunk that is not whole lines, or not asciicast, ends the
	// transcript with what was valid before it.
	f.send(f.svc, instance, api.RecordingChunk{SessionID: sid, Kind: api.KindCast, Offset: 0}, header+evs[0])
	good := int64(len(header + evs[0]))
	f.send(f.svc, instance, api.RecordingChunk{SessionID: sid, Kind: api.KindCast, Offset: good}, "not json\n")
	a := f.waitAck(t, func(a api.RecordingAck) bool { return a.Stored })
	if !a.Discard || a.Offset != good {
		t.Fatalf("after a bad line: %+v", a)
	}
	rc, _, err := f.local.Get(t.Context(), "logs/"+sid+".cast")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	got.ReadFrom(rc)
	rc.Close()
	if got.String() != header+evs[0] {
		t.Fatalf("stored %q", got.String())
	}
}

func FuzzHandleChunk(f *testing.F) {
	f.Add([]byte(`{"SessionId":"` + sid + `","Kind":"cast","Offset":0}` + "\n" + `{"version":2,"width":80,"height":24}` + "\n"))
	f.Add([]byte(`{"SessionId":"` + sid + `","Kind":"events","Offset":0,"Complete":true}` + "\n" + `{"Destination":"127.0.0.1:80"}` + "\n"))
	fx := newFixture(f) // one server for every input: state carries over, as on a live channel
	f.Fuzz(func(t *testing.T, p []byte) {
		fx.svc.HandleChunk(t.Context(), instance, p, func(api.RecordingAck) {})
		// Whatever was accepted must read back as whole lines.
		page, err := fx.svc.readPage(t.Context(), sid, 0, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if page.Data != "" && !strings.HasSuffix(page.Data, "\n") {
			t.Fatalf("staged a partial line: %q", page.Data)
		}
	})
}
