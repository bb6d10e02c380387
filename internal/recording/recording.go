// Package recording receives session transcripts from agents and keeps
// them: it stages each one on the server's disk as it streams in over the
// control channel, checks every line, publishes the output as live log
// events (CloudWatch-shaped) to the configured sinks and the bus, and, when
// the agent says the transcript is complete, stores it in the blob store
// (the local folder, or the S3 bucket the preferences name) as
// <s3KeyPrefix>/<SessionId>.cast plus a plain-text .log, then tells the
// agent it may delete its spool. It also serves Tether.GetSessionTranscript,
// which the CLI's tail, replay and download use. Server-side only.
//
// Restarts: the staging file survives a server restart; the agent asks for
// the server's offset on every new control channel and resends from there,
// so nothing is lost on either side. The staging directory is local to the
// replica the agent is connected to.
package recording

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/asciicast"
	"github.com/tetherhq/tether/internal/audit"
	"github.com/tetherhq/tether/internal/blob"
	"github.com/tetherhq/tether/internal/bus"
	"github.com/tetherhq/tether/internal/store"
)

// Config configures a Service.
type Config struct {
	// DataDir holds the staging directory (<DataDir>/transcript-staging).
	DataDir string
	Store   store.Store
	// Local is where transcripts go when the preferences name no bucket.
	Local blob.Store
	// S3 opens the store for a bucket (nil: buckets are refused with a
	// message saying S3 is not configured).
	S3 func(ctx context.Context, bucket, keyPrefix string) (blob.Store, error)
	// Sinks receive live log events; the bus always does.
	Sinks  []Sink
	Bus    bus.Bus
	Audit  audit.Recorder
	Region string
	Logger *slog.Logger
	Now    func() time.Time
}

// Service implements transcript ingestion and reading.
type Service struct {
	cfg     Config
	staging string

	mu   sync.Mutex
	live map[string]*staged
}

// staged is a transcript being received.
type staged struct {
	mu         sync.Mutex
	sid, kind  string
	sess       store.Session
	path       string // the transcript as received
	size       int64
	logPath    string // its plain-text lines so far (cast), written as they arrive
	logSize    int64
	lines      lineState
	synced     time.Time
	finalizing bool
}

// lineState is what checking a transcript remembers from line to line.
type lineState struct {
	header *asciicast.Header
	last   float64 // last event time
	plain  asciicast.Plain
}

// check checks one line (without its newline) of a transcript of kind and
// returns the plain-text lines it completes (cast) or the connection it
// records (events).
func (ls *lineState) check(kind string, line []byte) (text []string, te *TunnelEvent, err error) {
	if kind == api.KindEvents {
		te = new(TunnelEvent)
		if err := json.Unmarshal(line, te); err != nil {
			return nil, nil, fmt.Errorf("connection event: %w", err)
		}
		return nil, te, nil
	}
	if ls.header == nil {
		h, err := asciicast.ParseHeader(line)
		if err != nil {
			return nil, nil, err
		}
		ls.header = &h
		return nil, nil, nil
	}
	ev, err := asciicast.ParseEvent(line)
	if err != nil {
		return nil, nil, err
	}
	if ev.Time < ls.last {
		return nil, nil, fmt.Errorf("event time %.6f goes back from %.6f", ev.Time, ls.last)
	}
	ls.last = ev.Time
	if ev.Code == asciicast.Output {
		text = ls.plain.Write(ev.Data)
	}
	return text, nil, nil
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Audit == nil {
		cfg.Audit = audit.Discard{}
	}
	dir := filepath.Join(cfg.DataDir, "transcript-staging")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("transcript staging: %w", err)
	}
	return &Service{cfg: cfg, staging: dir, live: map[string]*staged{}}, nil
}

// SessionLog is the bus subject of a session's live log events.
func SessionLog(sessionID string) string { return "session." + sessionID + ".log" }

var sessionIDRe = regexp.MustCompile(`^[A-Za-z0-9_.@+=,-]{1,128}$`)

// HandleChunk takes one MessageRecording payload from instance's control
// channel; reply sends an acknowledgement back on it (possibly later, from
// another goroutine, once a complete transcript is stored).
func (s *Service) HandleChunk(ctx context.Context, instance string, payload []byte, reply func(api.RecordingAck)) {
	h, data, err := api.DecodeRecordingChunk(payload)
	if err != nil || !sessionIDRe.MatchString(h.SessionID) {
		s.cfg.Logger.Warn("malformed transcript chunk", "instance_id", instance, "err", err)
		return
	}
	log := s.cfg.Logger.With("session_id", h.SessionID, "instance_id", instance)
	st, err := s.open(ctx, h.SessionID, h.Kind)
	if err != nil {
		var refuse refusal
		if errors.As(err, &refuse) {
			log.Warn("transcript refused", "err", err)
			reply(api.RecordingAck{SessionID: h.SessionID, Discard: true, Error: err.Error()})
			return
		}
		log.Error("transcript staging", "err", err)
		reply(api.RecordingAck{SessionID: h.SessionID, Offset: 0, Error: "server error staging the transcript"})
		return
	}
	if st.sess.Target != instance {
		log.Warn("an agent offered another instance's transcript", "owner_instance", st.sess.Target)
		reply(api.RecordingAck{SessionID: h.SessionID, Discard: true, Error: "not this instance's session"})
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.sess.Transcript.Stored.IsZero() {
		reply(api.RecordingAck{SessionID: h.SessionID, Offset: st.size, Stored: true, OutputURL: st.sess.Transcript.OutputURL})
		return
	}
	if h.Offset < 0 || st.finalizing {
		reply(api.RecordingAck{SessionID: h.SessionID, Offset: st.size})
		return
	}
	if h.Offset > st.size {
		reply(api.RecordingAck{SessionID: h.SessionID, Offset: st.size, Error: fmt.Sprintf("expected offset %d", st.size)})
		return
	}
	end := h.Offset + int64(len(data))
	if skip := st.size - h.Offset; skip > 0 {
		if skip >= int64(len(data)) {
			data = nil
		} else {
			data = data[skip:]
		}
	}
	if len(data) > 0 {
		if err := s.appendLines(ctx, st, data); err != nil {
			var bad badLine
			if errors.As(err, &bad) {
				// The transcript cannot go on; keep what is valid.
				log.Error("malformed transcript; storing what arrived before it", "err", err)
				st.finalizing = true
				go s.finalize(st, reply, err.Error())
				return
			}
			log.Error("transcript staging", "err", err)
			reply(api.RecordingAck{SessionID: h.SessionID, Offset: st.size, Error: "server error staging the transcript"})
			return
		}
	}
	reply(api.RecordingAck{SessionID: h.SessionID, Offset: st.size})
	if h.Complete && end == st.size {
		st.finalizing = true
		go s.finalize(st, reply, "")
	}
}

// refusal is an error that makes the agent give up on a transcript.
type refusal struct{ msg string }

func (r refusal) Error() string { return r.msg }

type badLine struct{ error }

// open returns the staged transcript of sid, loading it after a restart.
func (s *Service) open(ctx context.Context, sid, kind string) (*staged, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.live[sid]; st != nil {
		if st.kind != kind {
			return nil, refusal{fmt.Sprintf("transcript kind %s, the server holds %s", kind, st.kind)}
		}
		return st, nil
	}
	sess, err := s.cfg.Store.GetSession(ctx, sid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, refusal{"no such session"}
	}
	if err != nil {
		return nil, err
	}
	st := &staged{sid: sid, kind: kind, sess: sess, path: filepath.Join(s.staging, sid+"."+kind),
		logPath: filepath.Join(s.staging, sid+".log")}
	if err := st.load(); err != nil {
		return nil, err
	}
	s.live[sid] = st
	return st, nil
}

// load picks up a staging file left by an earlier run: it checks it again,
// drops a torn last line, and rebuilds the plain-text lines.
func (st *staged) load() error {
	f, err := os.Open(st.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	lf, err := os.OpenFile(st.logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer lf.Close()
	lw := bufio.NewWriter(lf)
	br := bufio.NewReaderSize(f, 64<<10)
	var valid int64
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			break // a torn last line (crash mid-write) is dropped
		}
		text, _, err := st.lines.check(st.kind, line[:len(line)-1])
		if err != nil {
			break
		}
		for _, l := range text {
			n, _ := lw.WriteString(l + "\n")
			st.logSize += int64(n)
		}
		valid += int64(len(line))
	}
	if err := lw.Flush(); err != nil {
		return err
	}
	if valid < fi.Size() {
		if err := os.Truncate(st.path, valid); err != nil {
			return err
		}
	}
	st.size = valid
	return nil
}

// appendLines checks data (whole lines), appends it to the staging files
// and publishes it live. st.mu is held.
func (s *Service) appendLines(ctx context.Context, st *staged, data []byte) error {
	if data[len(data)-1] != '\n' {
		return badLine{errors.New("chunk does not end with a whole line")}
	}
	var text []string // plain-text lines for the .log and the live stream
	var tunnels []TunnelEvent
	ls := st.lines
	ls.plain = ls.plain.Clone() // st.lines stays as it is if a line is bad
	for rest := data; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		t, te, err := ls.check(st.kind, rest[:i])
		if err != nil {
			return badLine{err}
		}
		rest = rest[i+1:]
		text = append(text, t...)
		if te != nil {
			tunnels = append(tunnels, *te)
		}
	}
	var logData []byte
	for _, l := range text {
		logData = append(append(logData, l...), '\n')
	}
	sync := s.cfg.Now().Sub(st.synced) > time.Second
	err := appendFile(st.path, data, sync)
	if err == nil && len(logData) > 0 {
		err = appendFile(st.logPath, logData, sync)
	}
	if err != nil {
		// Keep the files at the last good sizes: the agent resends.
		os.Truncate(st.path, st.size)
		os.Truncate(st.logPath, st.logSize)
		return err
	}
	if sync {
		st.synced = s.cfg.Now()
	}
	st.size += int64(len(data))
	st.logSize += int64(len(logData))
	st.lines = ls
	if len(text) > 0 {
		s.publish(ctx, st, text)
	}
	for _, te := range tunnels {
		s.cfg.Audit.Record(ctx, te.AuditEvent(st.sess))
	}
	// Wake readers following the session (Tether.GetSessionTranscript).
	if s.cfg.Bus != nil {
		pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		s.cfg.Bus.Publish(pctx, transcriptSubject(st.sid), []byte(strconv.FormatInt(st.size, 10)))
		cancel()
	}
	return nil
}

// appendFile appends data to the file at path (creating it), with an fsync
// if sync.
func appendFile(path string, data []byte, sync bool) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func transcriptSubject(sid string) string { return "session." + sid + ".transcript" }

// TunnelEvent is one forwarded connection, as the agent records it.
type TunnelEvent struct {
	SessionID   string
	Destination string
	BytesIn     int64
	BytesOut    int64
	Start, End  time.Time
	Error       string
}

// AuditEvent is the audit record of the connection, tied to the session
// and its owner.
func (ev TunnelEvent) AuditEvent(sess store.Session) audit.Event {
	outcome := audit.OutcomeAllowed
	if ev.Error != "" {
		outcome = audit.OutcomeError
	}
	return audit.Event{
		Time: ev.End, Kind: "tunnel", Principal: sess.Owner, Action: "forward", Resource: ev.Destination,
		Outcome: outcome, Reason: ev.Error,
		Details: map[string]string{
			"sessionId": sess.ID, "target": sess.Target, "bytesIn": strconv.FormatInt(ev.BytesIn, 10),
			"bytesOut": strconv.FormatInt(ev.BytesOut, 10), "start": ev.Start.UTC().Format(time.RFC3339Nano),
			"end": ev.End.UTC().Format(time.RFC3339Nano),
		},
	}
}

// finalize stores a complete transcript and tells the agent. problem, if
// set, is why the transcript ended early (kept in the session's details).
func (s *Service) finalize(st *staged, reply func(api.RecordingAck), problem string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	log := s.cfg.Logger.With("session_id", st.sid)
	url, err := s.store(ctx, st)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.finalizing = false
	if err != nil {
		log.Error("store session transcript; the agent keeps its copy and retries", "err", err)
		reply(api.RecordingAck{SessionID: st.sid, Offset: st.size, Error: "store the transcript: " + err.Error()})
		return
	}
	now := s.cfg.Now()
	sess, err := s.cfg.Store.UpdateSession(ctx, st.sid, func(x *store.Session) error {
		x.Transcript.OutputURL = url
		x.Transcript.Stored = now
		x.Transcript.Kind = st.kind
		return nil
	})
	if err != nil {
		log.Error("record the stored transcript", "err", err)
		reply(api.RecordingAck{SessionID: st.sid, Offset: st.size, Error: "server error recording the transcript"})
		return
	}
	st.sess = sess
	os.Remove(st.path)
	os.Remove(st.logPath)
	s.mu.Lock()
	delete(s.live, st.sid)
	s.mu.Unlock()
	log.Info("session transcript stored", "url", url, "bytes", st.size, "problem", problem)
	if s.cfg.Bus != nil {
		pctx, pcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		s.cfg.Bus.Publish(pctx, transcriptSubject(st.sid), []byte("stored"))
		pcancel()
	}
	ack := api.RecordingAck{SessionID: st.sid, Offset: st.size, Stored: true, OutputURL: url}
	if problem != "" {
		ack.Discard, ack.Error = true, problem
	}
	reply(ack)
}

// Content types of stored objects.
const (
	ContentTypeCast  = "application/x-asciicast"
	ContentTypeLog   = "text/plain; charset=utf-8"
	ContentTypeJSONL = "application/x-ndjson"
)

// destination returns the blob store and key prefix for a session.
func (s *Service) destination(ctx context.Context, sess store.Session) (blob.Store, string, error) {
	if sess.Transcript.Bucket == "" {
		return s.cfg.Local, sess.Transcript.KeyPrefix, nil
	}
	if s.cfg.S3 == nil {
		return nil, "", fmt.Errorf("the preferences name S3 bucket %q but this server has no S3 configuration (set AWS_ENDPOINT_URL_S3 and credentials, or the s3 section of the configuration file)", sess.Transcript.Bucket)
	}
	bs, err := s.cfg.S3(ctx, sess.Transcript.Bucket, "")
	return bs, sess.Transcript.KeyPrefix, err
}

// store uploads the staged transcript (and its .log) and returns its URL.
// st.finalizing keeps the staging file unchanged meanwhile.
func (s *Service) store(ctx context.Context, st *staged) (string, error) {
	bs, prefix, err := s.destination(ctx, st.sess)
	if err != nil {
		return "", err
	}
	opts := blob.PutOptions{ServerSideEncryption: st.sess.Transcript.Encrypt}
	f, err := os.Open(st.path)
	if errors.Is(err, os.ErrNotExist) {
		// Nothing ever arrived but the completion: an empty transcript.
		f, err = os.OpenFile(st.path, os.O_CREATE|os.O_RDWR, 0o600)
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	f.Sync()
	ext, ctype := ".cast", ContentTypeCast
	if st.kind == api.KindEvents {
		ext, ctype = ".jsonl", ContentTypeJSONL
	}
	key, err := blob.JoinKey(prefix, st.sid+ext)
	if err != nil {
		return "", fmt.Errorf("the preference s3KeyPrefix %q: %w", prefix, err)
	}
	opts.ContentType = ctype
	if _, err := bs.Put(ctx, key, io.NewSectionReader(f, 0, st.size), st.size, opts); err != nil {
		return "", err
	}
	if st.kind == api.KindCast {
		// The plain-text lines were written as they arrived; the last,
		// unfinished one is added now (once: a retry finds it there).
		if rest := st.lines.plain.Pending(); rest != "" {
			if err := appendFile(st.logPath, []byte(rest+"\n"), false); err != nil {
				return "", err
			}
			st.logSize += int64(len(rest) + 1)
			st.lines.plain.Reset()
		}
		lf, err := os.OpenFile(st.logPath, os.O_CREATE|os.O_RDONLY, 0o600)
		if err != nil {
			return "", err
		}
		defer lf.Close()
		logKey, _ := blob.JoinKey(prefix, st.sid+".log")
		opts.ContentType = ContentTypeLog
		if _, err := bs.Put(ctx, logKey, io.NewSectionReader(lf, 0, st.logSize), st.logSize, opts); err != nil {
			return "", err
		}
	}
	return bs.URL(key), nil
}
