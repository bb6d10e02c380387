package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/asciicast"
)

// DefaultRecordingMinFree is the free space the spool's file system must
// have for the agent to start a recorded session.
const DefaultRecordingMinFree = 32 << 20

// spool keeps session transcripts on the agent's disk until the server
// says it has stored them. Each session has <id>.<kind> (the transcript,
// appended to as the session runs) and, once the session is over,
// <id>.done. The uploader (upload.go) streams both to the server.
type spool struct {
	dir     string
	minFree uint64
	log     *slog.Logger
	wake    chan struct{}

	mu     sync.Mutex
	active map[string]bool // sessions still writing
}

func newSpool(dir string, minFree uint64, log *slog.Logger) *spool {
	return &spool{dir: dir, minFree: minFree, log: log, wake: make(chan struct{}, 1), active: map[string]bool{}}
}

// poke wakes the uploader.
func (s *spool) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// recoverOrphans marks every unfinished transcript finished: at start-up no
// session is running, so they belong to sessions a crash ended. Their
// content up to the crash is kept and uploaded.
func (s *spool) recoverOrphans() error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("transcript spool %s: %w", s.dir, err)
	}
	for _, e := range s.list() {
		if !e.complete {
			s.log.Warn("transcript of a session ended by an agent restart; uploading what was recorded", "session_id", e.sid)
			if err := s.markDone(e.sid); err != nil {
				return err
			}
		}
	}
	return nil
}

type spoolEntry struct {
	sid, kind string
	path      string
	size      int64
	complete  bool
}

// list returns the transcripts in the spool.
func (s *spool) list() []spoolEntry {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return nil
	}
	done := map[string]bool{}
	for _, de := range des {
		if sid, ok := strings.CutSuffix(de.Name(), ".done"); ok {
			done[sid] = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []spoolEntry
	for _, de := range des {
		name := de.Name()
		ext := filepath.Ext(name)
		kind := strings.TrimPrefix(ext, ".")
		if kind != api.KindCast && kind != api.KindEvents {
			continue
		}
		sid := strings.TrimSuffix(name, ext)
		info, err := de.Info()
		if err != nil {
			continue
		}
		out = append(out, spoolEntry{sid: sid, kind: kind, path: filepath.Join(s.dir, name), size: info.Size(),
			complete: done[sid] && !s.active[sid]})
	}
	return out
}

func (s *spool) markDone(sid string) error {
	f, err := os.OpenFile(filepath.Join(s.dir, sid+".done"), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("finish transcript %s: %w", sid, err)
	}
	f.Close()
	syncDir(s.dir)
	return nil
}

// remove deletes a stored transcript's files.
func (s *spool) remove(sid string) {
	for _, k := range []string{api.KindCast, api.KindEvents, "done"} {
		os.Remove(filepath.Join(s.dir, sid+"."+k))
	}
	syncDir(s.dir)
}

// discard moves a transcript the server refuses for good out of the way,
// keeping it for an operator to look at.
func (s *spool) discard(sid string) {
	rej := filepath.Join(s.dir, "rejected")
	os.MkdirAll(rej, 0o700)
	for _, k := range []string{api.KindCast, api.KindEvents} {
		os.Rename(filepath.Join(s.dir, sid+"."+k), filepath.Join(rej, sid+"."+k))
	}
	os.Remove(filepath.Join(s.dir, sid+".done"))
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// ErrSpoolFull means the agent cannot record a session.
var ErrSpoolFull = errors.New("not enough free disk space to record the session")

// checkFree fails when the spool's file system has less than minFree free.
func (s *spool) checkFree() error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &st); err != nil {
		return fmt.Errorf("transcript spool %s: %w", s.dir, err)
	}
	free := st.Bavail * uint64(st.Bsize)
	if free < s.minFree {
		return fmt.Errorf("%w: %d MiB free in %s, the agent needs %d MiB (free some space, or lower tether-agent run --recording-min-free)",
			ErrSpoolFull, free>>20, s.dir, s.minFree>>20)
	}
	return nil
}

// recorder writes one session's transcript. Methods are safe for
// concurrent use (output pumps and the input loop).
type recorder struct {
	s        *spool
	sid      string
	failOpen bool
	// fail is told the first write error when the session must not go on
	// unrecorded (fail-closed, the default).
	fail func(error)

	mu     sync.Mutex
	f      *os.File
	cw     *asciicast.Writer
	err    error
	closed bool
}

// openCast starts an asciicast transcript. Its error is shown to the user.
func (s *spool) openCast(sid string, h asciicast.Header, failOpen bool, fail func(error)) (*recorder, error) {
	f, err := s.create(sid, api.KindCast)
	if err != nil {
		return nil, err
	}
	r := &recorder{s: s, sid: sid, f: f, failOpen: failOpen, fail: fail}
	cw, err := asciicast.NewWriter(f, h, time.Now())
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		r.abandon()
		return nil, fmt.Errorf("start the session transcript: %w", err)
	}
	r.cw = cw
	return r, nil
}

// openEvents starts a transcript of forwarded connections.
func (s *spool) openEvents(sid string, failOpen bool, fail func(error)) (*recorder, error) {
	f, err := s.create(sid, api.KindEvents)
	if err != nil {
		return nil, err
	}
	return &recorder{s: s, sid: sid, f: f, failOpen: failOpen, fail: fail}, nil
}

func (s *spool) create(sid, kind string) (*os.File, error) {
	if strings.ContainsAny(sid, `/\`) || sid == "" || strings.HasPrefix(sid, ".") {
		return nil, fmt.Errorf("session id %q cannot name a file", sid)
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("transcript spool: %w", err)
	}
	if err := s.checkFree(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(s.dir, sid+"."+kind), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start the session transcript: %w", err)
	}
	s.active[sid] = true
	return f, nil
}

// abandon removes a transcript that never started.
func (r *recorder) abandon() {
	r.f.Close()
	os.Remove(r.f.Name())
	r.s.mu.Lock()
	delete(r.s.active, r.sid)
	r.s.mu.Unlock()
}

// write records data under code ("o" or "i").
func (r *recorder) write(code string, data []byte) {
	r.do(func(now time.Time) error { return r.cw.Write(now, code, data) })
}

// resize records a terminal size.
func (r *recorder) resize(cols, rows int) {
	r.do(func(now time.Time) error { return r.cw.Resize(now, cols, rows) })
}

// do runs one write of an open, healthy transcript.
func (r *recorder) do(w func(now time.Time) error) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.err != nil {
		return
	}
	r.failed(w(time.Now()))
}

// event records one JSON line (events transcripts); false if the
// transcript is closed or failed.
func (r *recorder) event(v any) bool {
	if r == nil {
		return false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.err != nil {
		return false
	}
	_, err = r.f.Write(append(b, '\n'))
	r.failed(err)
	return err == nil
}

// failed handles a write's result; r.mu is held.
func (r *recorder) failed(err error) {
	if err == nil {
		r.s.poke()
		return
	}
	r.err = err
	if r.failOpen {
		r.s.log.Error("session transcript failed; the session goes on unrecorded (recordingFailOpen)", "session_id", r.sid, "err", err)
		return
	}
	r.s.log.Error("session transcript failed; ending the session", "session_id", r.sid, "err", err)
	if r.fail != nil {
		go r.fail(err)
	}
}

// Err returns the first write error.
func (r *recorder) Err() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// close finishes the transcript: the uploader may now complete it.
func (r *recorder) close() {
	if r == nil {
		return
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	if r.cw != nil && r.err == nil {
		r.cw.Flush(time.Now())
	}
	r.f.Sync()
	r.f.Close()
	r.mu.Unlock()
	if err := r.s.markDone(r.sid); err != nil {
		r.s.log.Error("finish session transcript", "session_id", r.sid, "err", err)
	}
	r.s.mu.Lock()
	delete(r.s.active, r.sid)
	r.s.mu.Unlock()
	r.s.poke()
}
