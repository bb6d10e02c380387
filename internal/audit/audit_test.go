package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/store"
)

func TestRedact(t *testing.T) {
	long := strings.Repeat("é", MaxParamString) // 2 bytes each: the cut must fall between runes
	for _, tc := range []struct {
		name string
		in   string
		want string // JSON, compared after re-encoding
	}{
		{"empty", ``, ``},
		{"no secrets", `{"Target":"mi-1","DocumentName":"AWS-StartSSHSession","Parameters":{"portNumber":["22"]}}`,
			`{"DocumentName":"AWS-StartSSHSession","Parameters":{"portNumber":["22"]},"Target":"mi-1"}`},
		{"AWS secret names", `{"SecretAccessKey":"wJalr","TokenValue":"tok","SessionToken":"st","AccessKeyId":"AKIAEXAMPLE"}`,
			`{"AccessKeyId":"AKIAEXAMPLE","SecretAccessKey":"REDACTED","SessionToken":"REDACTED","TokenValue":"REDACTED"}`},
		{"unknown secret-looking names, any case, any depth", `{"a":{"dbPassword":"p","X":[{"client_secret":"s","API_KEY":"k","privateKey":"pk"}]},"Credentials":{"x":"y"},"passwd":"p2","ActivationCode":"c"}`,
			`{"ActivationCode":"REDACTED","Credentials":"REDACTED","a":{"X":[{"API_KEY":"REDACTED","client_secret":"REDACTED","privateKey":"REDACTED"}],"dbPassword":"REDACTED"},"passwd":"REDACTED"}`},
		{"document parameters named like secrets", `{"Target":"mi-1","Parameters":{"password":["hunter2"],"host":["db"]}}`,
			`{"Parameters":{"host":["db"],"password":"REDACTED"},"Target":"mi-1"}`},
		{"public keys and policies stay", `{"SSHPublicKey":"ssh-ed25519 AAAA","PolicyDocument":"{\"Statement\":[]}"}`,
			`{"PolicyDocument":"{\"Statement\":[]}","SSHPublicKey":"ssh-ed25519 AAAA"}`},
		{"not JSON", `{"SecretAccessKey": "abc`, `{"_bytes":24,"_omitted":"not valid JSON"}`},
		{"two values", `{"a":1} {"SecretAccessKey":"abc"}`, `{"_bytes":33,"_omitted":"not valid JSON"}`},
		{"not an object", `["SecretAccessKey","abc"]`, `{"_bytes":25,"_omitted":"not a JSON object"}`},
		{"numbers keep their text", `{"MaxResults":10,"Big":12345678901234567890}`, `{"Big":12345678901234567890,"MaxResults":10}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Redact([]byte(tc.in))
			if tc.want == "" {
				if got != nil {
					t.Fatalf("got %s, want nil", got)
				}
				return
			}
			if canon(t, got) != canon(t, []byte(tc.want)) {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}

	t.Run("long strings are cut on a rune boundary", func(t *testing.T) {
		in, _ := json.Marshal(map[string]string{"Content": long})
		var out map[string]string
		if err := json.Unmarshal(Redact(in), &out); err != nil {
			t.Fatal(err)
		}
		c := out["Content"]
		if !strings.HasPrefix(c, strings.Repeat("é", MaxParamString/2)) || !strings.Contains(c, "…[truncated 1024 bytes]") {
			t.Fatalf("content %q", c[len(c)-40:])
		}
	})
	t.Run("large requests stay bounded", func(t *testing.T) {
		var items []string
		for range 500 {
			items = append(items, strings.Repeat("x", 2000))
		}
		in, _ := json.Marshal(map[string]any{"Items": items, "Nested": nest(100)})
		out := Redact(in)
		if len(out) > MaxParamsSize || !json.Valid(out) {
			t.Fatalf("%d bytes, valid %v", len(out), json.Valid(out))
		}
		big := map[string]string{}
		for i := range 1000 {
			big[strings.Repeat("k", 10)+string(rune('a'+i%26))+strings.Repeat("v", i%7)] = "v"
		}
		in, _ = json.Marshal(big)
		if out := Redact(in); len(out) > MaxParamsSize || !json.Valid(out) {
			t.Fatalf("wide object: %d bytes", len(out))
		}
	})
}

func nest(n int) any {
	if n == 0 {
		return "SecretAccessKey"
	}
	return map[string]any{"n": nest(n - 1)}
}

func canon(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// fakeAppender is a store that can fail or stall.
type fakeAppender struct {
	mu     sync.Mutex
	events []store.AuditEvent
	fail   error
	stall  chan struct{} // while open, writes block
	calls  int
}

func (f *fakeAppender) AppendAuditEvents(ctx context.Context, evs []store.AuditEvent) error {
	f.mu.Lock()
	stall, fail := f.stall, f.fail
	f.calls++
	f.mu.Unlock()
	if stall != nil {
		select {
		case <-stall:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail != nil {
		return fail
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, evs...)
	return nil
}

func (f *fakeAppender) stored() []store.AuditEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.AuditEvent(nil), f.events...)
}

func TestStoreRecorder(t *testing.T) {
	t.Run("events reach the store, with ids, by Close", func(t *testing.T) {
		f := &fakeAppender{}
		r, err := NewStore(StoreConfig{Store: f, Batch: 7})
		if err != nil {
			t.Fatal(err)
		}
		for range 100 {
			r.Record(t.Context(), Event{Kind: KindAPI, Action: "a", Outcome: OutcomeAllowed})
		}
		if err := r.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		got := f.stored()
		seen := map[string]bool{}
		for _, e := range got {
			if e.ID == "" || seen[e.ID] || e.Time.IsZero() {
				t.Fatalf("event %+v: want a fresh id and a time", e)
			}
			seen[e.ID] = true
		}
		if len(got) != 100 || r.Stats().Written != 100 {
			t.Fatalf("stored %d, stats %+v", len(got), r.Stats())
		}
		r.Record(t.Context(), Event{Action: "late"})
		if r.Stats().Dropped != 1 {
			t.Fatalf("after Close: %+v", r.Stats())
		}
		if err := r.Close(t.Context()); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
	t.Run("a failing store is logged and counted, and Record returns", func(t *testing.T) {
		var logs bytes.Buffer
		var mu sync.Mutex
		f := &fakeAppender{fail: errors.New("disk I/O error")}
		r, _ := NewStore(StoreConfig{Store: f, Logger: newLogger(&logs, &mu)})
		for range 3 {
			r.Record(t.Context(), Event{Action: "a"})
		}
		r.Close(t.Context())
		if s := r.Stats(); s.Failed != 3 || s.Written != 0 {
			t.Fatalf("stats %+v", s)
		}
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(logs.String(), "write audit events") || !strings.Contains(logs.String(), "disk I/O error") {
			t.Fatalf("log: %s", logs.String())
		}
	})
	t.Run("a stalled store never blocks Record for long", func(t *testing.T) {
		f := &fakeAppender{stall: make(chan struct{})}
		r, _ := NewStore(StoreConfig{Store: f, Queue: 4, Batch: 1, EnqueueWait: 10 * time.Millisecond})
		start := time.Now()
		for range 20 {
			r.Record(t.Context(), Event{Action: "a"})
		}
		// 20 events, a queue of 4 and one in the writer's hands: the rest
		// each wait EnqueueWait and are dropped; nothing waits on the store.
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("20 Records took %s", d)
		}
		if s := r.Stats(); s.Dropped < 10 {
			t.Fatalf("stats %+v: want drops", s)
		}
		close(f.stall)
		r.Close(t.Context())
		if s := r.Stats(); s.Written+s.Dropped != 20 {
			t.Fatalf("stats %+v: every event is written or counted as dropped", s)
		}
	})
	t.Run("Close gives up when its context ends", func(t *testing.T) {
		f := &fakeAppender{stall: make(chan struct{})}
		r, _ := NewStore(StoreConfig{Store: f})
		r.Record(t.Context(), Event{Action: "a"})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if err := r.Close(ctx); err == nil {
			t.Fatal("Close with a stalled store: no error")
		}
		close(f.stall)
	})
}

func TestLogWritesBothWithOneID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	file, err := OpenFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAppender{}
	sr, _ := NewStore(StoreConfig{Store: f})
	l := &Log{File: file, Store: sr}
	l.Record(t.Context(), Event{Kind: KindAPI, Action: "Tether.CreateAccessKey", Outcome: OutcomeAllowed,
		Parameters: Redact([]byte(`{"UserName":"alice","SecretAccessKey":"s3cr3t"}`))})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	evs, err := Read(bytes.NewReader(b))
	if err != nil || len(evs) != 1 {
		t.Fatalf("file: %v %d", err, len(evs))
	}
	st := f.stored()
	if len(st) != 1 || st[0].ID != evs[0].ID || !st[0].Time.Equal(evs[0].Time) || evs[0].ID == "" {
		t.Fatalf("file %+v, store %+v", evs, st)
	}
	if strings.Contains(string(b), "s3cr3t") || strings.Contains(st[0].Parameters, "s3cr3t") {
		t.Fatal("secret recorded")
	}
	if back := FromStore(st[0]); string(back.Parameters) != st[0].Parameters {
		t.Fatalf("FromStore: %+v", back)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func newLogger(b *bytes.Buffer, mu *sync.Mutex) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{mu, b}, nil))
}
