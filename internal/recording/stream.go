package recording

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/tetherhq/tether/internal/asciicast"
)

// StreamEvent is one live log event, shaped like the events AWS streams to
// CloudWatch Logs for a session: the session's output as plain-text lines
// (escape sequences and carriage returns removed, tabs as spaces).
type StreamEvent struct {
	EventVersion string       `json:"eventVersion"`
	EventTime    string       `json:"eventTime"`
	AWSRegion    string       `json:"awsRegion"`
	Target       StreamTarget `json:"target"`
	UserIdentity StreamUser   `json:"userIdentity"`
	RunAsUser    string       `json:"runAsUser"`
	SessionID    string       `json:"sessionId"`
	SessionData  []string     `json:"sessionData"`
}

// StreamTarget names the instance.
type StreamTarget struct {
	ID string `json:"id"`
}

// StreamUser names the session's owner.
type StreamUser struct {
	ARN string `json:"arn"`
}

// Sink receives live log events. Publish must not block for long.
type Sink interface {
	Publish(ctx context.Context, ev StreamEvent)
}

// WriterSink writes events as JSON lines (a file, or stdout).
type WriterSink struct {
	mu  sync.Mutex
	w   io.Writer
	log *slog.Logger
}

// NewWriterSink returns a sink writing to w.
func NewWriterSink(w io.Writer, log *slog.Logger) *WriterSink {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &WriterSink{w: w, log: log}
}

// Publish implements Sink.
func (ws *WriterSink) Publish(_ context.Context, ev StreamEvent) {
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if _, err := ws.w.Write(append(b, '\n')); err != nil {
		ws.log.Error("write session log event", "err", err)
	}
}

// publish sends a session's new output lines to the sinks and the bus.
func (s *Service) publish(ctx context.Context, st *staged, lines []string) {
	for i, l := range lines {
		lines[i] = asciicast.LogLine(l)
	}
	ev := StreamEvent{
		EventVersion: "1.0", EventTime: s.cfg.Now().UTC().Format(time.RFC3339), AWSRegion: s.cfg.Region,
		Target: StreamTarget{ID: st.sess.Target}, UserIdentity: StreamUser{ARN: st.sess.Owner},
		SessionID: st.sid, SessionData: lines,
	}
	if h := st.lines.header; h != nil && h.Tether != nil {
		ev.RunAsUser = h.Tether.RunAsUser
	}
	for _, sink := range s.cfg.Sinks {
		sink.Publish(ctx, ev)
	}
	if s.cfg.Bus != nil {
		b, _ := json.Marshal(ev)
		pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		s.cfg.Bus.Publish(pctx, SessionLog(st.sid), b)
		cancel()
	}
}
