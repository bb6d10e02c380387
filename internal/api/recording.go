package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Control-channel message types (datachannel framing) that carry session
// transcripts from the agent's spool to the server.
const (
	// MessageRecording (agent → server) is a RecordingChunk header line
	// followed by the transcript bytes at its offset.
	MessageRecording = "tether_recording"
	// MessageRecordingAck (server → agent) is a RecordingAck.
	MessageRecordingAck = "tether_recording_ack"
)

// Transcript kinds: what a spool file holds.
const (
	KindCast   = "cast"   // asciicast v2 of a shell or commands session
	KindEvents = "events" // JSON lines of forwarded connections (port sessions)
)

// RecordingChunk heads a MessageRecording. Offset -1 asks for the server's
// offset without sending data. Complete says the spool is finished and
// ends at Offset plus the data's length: the server then stores the
// transcript and acknowledges with Stored.
type RecordingChunk struct {
	SessionID string
	Kind      string
	Offset    int64
	Complete  bool `json:",omitempty"`
}

// RecordingAck tells the agent how many bytes of a transcript the server
// holds, and whether it is stored for good (the agent may then delete its
// spool). Error explains a refusal; Discard means the server will never
// take this transcript (not this instance's session) and the agent should
// stop offering it.
type RecordingAck struct {
	SessionID string
	Offset    int64
	Stored    bool   `json:",omitempty"`
	OutputURL string `json:",omitempty"`
	Error     string `json:",omitempty"`
	Discard   bool   `json:",omitempty"`
}

// MaxRecordingChunk bounds the data in one MessageRecording.
const MaxRecordingChunk = 256 << 10

// EncodeRecordingChunk returns a MessageRecording payload.
func EncodeRecordingChunk(h RecordingChunk, data []byte) []byte {
	hb, _ := json.Marshal(h)
	out := make([]byte, 0, len(hb)+1+len(data))
	out = append(out, hb...)
	out = append(out, '\n')
	return append(out, data...)
}

// DecodeRecordingChunk parses and checks a MessageRecording payload.
func DecodeRecordingChunk(p []byte) (RecordingChunk, []byte, error) {
	var h RecordingChunk
	i := bytes.IndexByte(p, '\n')
	if i < 0 || i > 1024 {
		return h, nil, errors.New("recording chunk: no header line")
	}
	if err := json.Unmarshal(p[:i], &h); err != nil {
		return h, nil, fmt.Errorf("recording chunk header: %w", err)
	}
	data := p[i+1:]
	switch {
	case h.SessionID == "" || len(h.SessionID) > 128:
		return h, nil, errors.New("recording chunk: bad session id")
	case h.Kind != KindCast && h.Kind != KindEvents:
		return h, nil, fmt.Errorf("recording chunk: unknown kind %q", h.Kind)
	case h.Offset < -1 || h.Offset == -1 && len(data) > 0:
		return h, nil, errors.New("recording chunk: bad offset")
	case len(data) > MaxRecordingChunk:
		return h, nil, errors.New("recording chunk: too large")
	}
	return h, data, nil
}

// GetSessionTranscriptInput is Tether.GetSessionTranscript's input: the
// transcript's bytes from Offset, waiting up to WaitSeconds (at most 20)
// for more when there are none yet.
type GetSessionTranscriptInput struct {
	SessionID   string `json:"SessionId"`
	Offset      int64  `json:"Offset,omitempty"`
	MaxBytes    int    `json:"MaxBytes,omitempty"`
	WaitSeconds int    `json:"WaitSeconds,omitempty"`
}

// GetSessionTranscriptOutput is a page of a transcript (asciicast v2, whole
// lines). Complete means the transcript is stored and Data reaches its end.
type GetSessionTranscriptOutput struct {
	SessionID     string `json:"SessionId"`
	Data          string `json:"Data"`
	NextOffset    int64  `json:"NextOffset"`
	Complete      bool   `json:"Complete"`
	Stored        bool   `json:"Stored"`
	OutputURL     string `json:"OutputUrl,omitempty"`
	SessionStatus string `json:"SessionStatus"`
}

// Transcript reading limits.
const (
	DefaultTranscriptPage = 1 << 20
	MaxTranscriptPage     = 4 << 20
	MaxTranscriptWait     = 20
)
