package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"time"

	"github.com/coder/websocket"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/datachannel"
)

// Upload pacing. Chunks are sent at most every uploadEvery while a session
// writes (the live tail sees output within a second), with at most
// uploadWindow bytes unacknowledged per transcript.
var (
	uploadEvery   = 100 * time.Millisecond
	uploadWindow  = int64(4 * api.MaxRecordingChunk)
	uploadStall   = 15 * time.Second // no acknowledgement: ask again
	finalRetry    = 30 * time.Second // a completion not answered is sent again
	storeErrRetry = 5 * time.Second  // after the server failed to store
)

type uploadState struct {
	acked, sent int64 // -1: unknown (ask)
	askedAt     time.Time
	lastAck     time.Time
	finalAt     time.Time
	retryAfter  time.Time
}

// uploadLoop streams the spool's transcripts over one control channel
// until ctx ends (the channel closes). Acknowledgements arrive on acks.
func (a *Agent) uploadLoop(ctx context.Context, c *websocket.Conn, acks <-chan api.RecordingAck) {
	sp := a.spool
	log := a.cfg.Logger
	st := map[string]*uploadState{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	send := func(h api.RecordingChunk, data []byte) error {
		b, err := (&datachannel.Message{MessageType: api.MessageRecording, Payload: api.EncodeRecordingChunk(h, data)}).MarshalBinary()
		if err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return c.Write(wctx, websocket.MessageBinary, b)
	}
	handle := func(ack api.RecordingAck) {
		u := st[ack.SessionID]
		switch {
		case ack.Discard:
			log.Error("the server refuses this session's transcript; moved aside", "session_id", ack.SessionID, "err", ack.Error)
			sp.discard(ack.SessionID)
			delete(st, ack.SessionID)
			return
		case ack.Stored:
			log.Info("session transcript stored", "session_id", ack.SessionID, "url", ack.OutputURL)
			sp.remove(ack.SessionID)
			delete(st, ack.SessionID)
			return
		case u == nil:
			return
		}
		now := time.Now()
		u.lastAck = now
		if ack.Error != "" {
			log.Warn("the server could not store the session transcript; will retry", "session_id", ack.SessionID, "err", ack.Error)
			u.retryAfter = now.Add(storeErrRetry)
			u.finalAt = time.Time{}
		}
		if u.acked < 0 || ack.Offset < u.acked || ack.Error != "" {
			// An answer to a question, or the server lost data: resume
			// from what it holds.
			u.sent = ack.Offset
		}
		u.acked = ack.Offset
		if u.sent < u.acked {
			u.sent = u.acked
		}
	}
	var last time.Time
	// backlog: the last pass left a transcript with bytes it could not
	// send, the window being full. An acknowledgement then opens the
	// window for data that is already there, so the next pass need not
	// wait: waiting would cap the upload at uploadWindow per uploadEvery.
	backlog := false
	buf := make([]byte, api.MaxRecordingChunk)
	for {
		acked := false
		select {
		case <-ctx.Done():
			return
		case ack := <-acks:
			handle(ack)
			acked = true
		case <-sp.wake:
		case <-tick.C:
		}
		// Batch: at most one pass per uploadEvery, unless an acknowledgement
		// lets a backlog go on.
		if d := uploadEvery - time.Since(last); d > 0 && !(acked && backlog) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		}
		for more := true; more; {
			select {
			case ack := <-acks:
				handle(ack)
			default:
				more = false
			}
		}
		last = time.Now()
		backlog = false
		for _, e := range sp.list() {
			u := st[e.sid]
			if u == nil {
				u = &uploadState{acked: -1, sent: -1}
				st[e.sid] = u
			}
			now := time.Now()
			if u.acked < 0 {
				if now.Sub(u.askedAt) > uploadStall {
					u.askedAt = now
					if err := send(api.RecordingChunk{SessionID: e.sid, Kind: e.kind, Offset: -1}, nil); err != nil {
						return
					}
				}
				continue
			}
			if u.sent > u.acked && now.Sub(u.lastAck) > uploadStall {
				u.acked, u.sent = -1, -1 // no answer: ask again
				continue
			}
			if err := a.sendFrom(e, u, buf, send); err != nil {
				if errors.Is(err, errConnection) {
					return
				}
				log.Error("read session transcript", "session_id", e.sid, "err", err)
				continue
			}
			if u.sent < e.size && u.sent-u.acked >= uploadWindow {
				backlog = true
			}
			if e.complete && u.acked == e.size && u.sent == e.size && now.After(u.retryAfter) &&
				(u.finalAt.IsZero() || now.Sub(u.finalAt) > finalRetry) {
				u.finalAt = now
				if err := send(api.RecordingChunk{SessionID: e.sid, Kind: e.kind, Offset: e.size, Complete: true}, nil); err != nil {
					return
				}
			}
		}
	}
}

var errConnection = errors.New("control channel write failed")

// sendFrom sends e's bytes after u.sent, whole lines only, within the window.
func (a *Agent) sendFrom(e spoolEntry, u *uploadState, buf []byte, send func(api.RecordingChunk, []byte) error) error {
	if u.sent >= e.size || u.sent-u.acked >= uploadWindow {
		return nil
	}
	f, err := os.Open(e.path)
	if err != nil {
		return err
	}
	defer f.Close()
	for u.sent < e.size && u.sent-u.acked < uploadWindow {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), e.size-u.sent)], u.sent)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		data := buf[:n]
		// Whole lines: the server checks each line as it arrives.
		i := len(data) - 1
		for i >= 0 && data[i] != '\n' {
			i--
		}
		if i < 0 {
			return nil // a line still being written
		}
		data = data[:i+1]
		if err := send(api.RecordingChunk{SessionID: e.sid, Kind: e.kind, Offset: u.sent}, data); err != nil {
			return errConnection
		}
		u.sent += int64(len(data))
		if u.lastAck.IsZero() || u.sent-int64(len(data)) == u.acked {
			u.lastAck = time.Now() // the stall clock starts with the first unanswered chunk
		}
	}
	return nil
}

// deliverAck hands a MessageRecordingAck to the uploader.
func deliverAck(payload []byte, acks chan<- api.RecordingAck) {
	var ack api.RecordingAck
	if json.Unmarshal(payload, &ack) != nil || ack.SessionID == "" {
		return
	}
	select {
	case acks <- ack:
	default: // the uploader asks again after uploadStall
	}
}
