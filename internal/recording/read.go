package recording

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/auth"
	"github.com/tetherhq/tether/internal/blob"
	"github.com/tetherhq/tether/internal/ssmapi"
	"github.com/tetherhq/tether/internal/store"
)

// Authorizer decides whether a principal may read a session's transcript.
type Authorizer interface {
	Authorize(p *auth.Principal, action, resource string, extra map[string][]string) error
}

// ActionGetSessionTranscript is the policy action for reading transcripts
// (tail, replay, download), on the session's ARN.
const ActionGetSessionTranscript = "tether:GetSessionTranscript"

// Register adds Tether.GetSessionTranscript to mux. sessionARN maps a
// session id to its ARN.
func (s *Service) Register(mux *ssmapi.Mux, az Authorizer, sessionARN func(string) string) {
	mux.Handle(api.TargetTether+"GetSessionTranscript", ssmapi.Op(func(ctx context.Context, p *auth.Principal, in *api.GetSessionTranscriptInput) (any, error) {
		return s.getTranscript(ctx, p, in, az, sessionARN)
	}))
}

func (s *Service) getTranscript(ctx context.Context, p *auth.Principal, in *api.GetSessionTranscriptInput, az Authorizer, sessionARN func(string) string) (any, error) {
	switch {
	case in.SessionID == "":
		return nil, api.Errorf(api.CodeValidation, "SessionId is required")
	case !sessionIDRe.MatchString(in.SessionID):
		return nil, api.Errorf(api.CodeValidation, "SessionId %q is not a session id", in.SessionID)
	case in.Offset < 0:
		return nil, api.Errorf(api.CodeValidation, "Offset must be 0 or more")
	case in.MaxBytes < 0 || in.MaxBytes > api.MaxTranscriptPage:
		return nil, api.Errorf(api.CodeValidation, "MaxBytes must be between 1 and %d", api.MaxTranscriptPage)
	case in.WaitSeconds < 0 || in.WaitSeconds > api.MaxTranscriptWait:
		return nil, api.Errorf(api.CodeValidation, "WaitSeconds must be between 0 and %d", api.MaxTranscriptWait)
	}
	if err := az.Authorize(p, ActionGetSessionTranscript, sessionARN(in.SessionID), nil); err != nil {
		return nil, err
	}
	if _, err := s.cfg.Store.GetSession(ctx, in.SessionID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, api.Errorf(api.CodeDoesNotExist, "Session %s does not exist", in.SessionID)
		}
		return nil, err
	}
	max := in.MaxBytes
	if max == 0 {
		max = api.DefaultTranscriptPage
	}
	var wake <-chan []byte
	if in.WaitSeconds > 0 && s.cfg.Bus != nil {
		// Subscribe before reading, so data that arrives in between wakes us.
		sub, err := s.cfg.Bus.Subscribe(ctx, transcriptSubject(in.SessionID))
		if err == nil {
			defer sub.Close()
			wake = sub.C()
		}
	}
	deadline := time.After(time.Duration(in.WaitSeconds) * time.Second)
	for {
		out, err := s.readPage(ctx, in.SessionID, in.Offset, max)
		if err != nil || out.Data != "" || out.Complete || wake == nil {
			return out, err
		}
		select {
		case <-ctx.Done():
			return out, nil
		case <-deadline:
			return out, nil
		case <-wake:
		}
	}
}

// readPage reads whole lines from offset: from the stored object once the
// transcript is stored, else from the staging file.
func (s *Service) readPage(ctx context.Context, sid string, offset int64, max int) (api.GetSessionTranscriptOutput, error) {
	sess, err := s.cfg.Store.GetSession(ctx, sid)
	if err != nil {
		return api.GetSessionTranscriptOutput{}, err
	}
	out := api.GetSessionTranscriptOutput{SessionID: sid, NextOffset: offset, SessionStatus: sess.Status,
		Stored: !sess.Transcript.Stored.IsZero(), OutputURL: sess.Transcript.OutputURL}
	var r io.Reader
	if out.Stored {
		bs, prefix, err := s.destination(ctx, sess)
		if err != nil {
			return out, err
		}
		ext := ".cast"
		if sess.Transcript.Kind == api.KindEvents {
			ext = ".jsonl"
		}
		key, err := blob.JoinKey(prefix, sid+ext)
		if err != nil {
			return out, err
		}
		rc, _, err := bs.Get(ctx, key)
		if errors.Is(err, blob.ErrNotFound) {
			return out, api.Errorf(api.CodeDoesNotExist, "the transcript of session %s was stored at %s but is no longer there", sid, sess.Transcript.OutputURL)
		}
		if err != nil {
			return out, err
		}
		defer rc.Close()
		if sk, ok := rc.(io.Seeker); ok {
			if _, err := sk.Seek(offset, io.SeekStart); err != nil {
				return out, err
			}
		} else if _, err := io.CopyN(io.Discard, rc, offset); err != nil && !errors.Is(err, io.EOF) {
			return out, err
		}
		r = rc
	} else {
		size := s.stagedSize(sid)
		f, err := os.Open(s.stagingPath(sid))
		if errors.Is(err, os.ErrNotExist) {
			return out, nil // nothing has arrived yet
		}
		if err != nil {
			return out, err
		}
		defer f.Close()
		if size < 0 {
			fi, err := f.Stat()
			if err != nil {
				return out, err
			}
			size = fi.Size()
		}
		if offset >= size {
			return out, nil
		}
		r = io.NewSectionReader(f, offset, size-offset)
	}
	buf := make([]byte, max)
	n, err := io.ReadFull(r, buf)
	atEnd := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	if err != nil && !atEnd {
		return out, err
	}
	data := buf[:n]
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	} else if !(atEnd && out.Stored) {
		data = nil // a line longer than the page, or still arriving
	}
	out.Data = string(data)
	out.NextOffset = offset + int64(len(data))
	out.Complete = out.Stored && atEnd && len(data) == n
	return out, nil
}

// stagedSize returns the checked size of a transcript being received, or -1.
func (s *Service) stagedSize(sid string) int64 {
	s.mu.Lock()
	st := s.live[sid]
	s.mu.Unlock()
	if st == nil {
		return -1
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.size
}

func (s *Service) stagingPath(sid string) string {
	return s.staging + "/" + sid + ".cast"
}
