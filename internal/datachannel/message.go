package datachannel

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
)

// PayloadType says how to interpret a stream message's payload (protocol.md
// §3.3). Acks and control messages carry 0.
type PayloadType uint32

// Payload types.
const (
	PayloadOutput               PayloadType = 1
	PayloadError                PayloadType = 2
	PayloadSize                 PayloadType = 3
	PayloadParameter            PayloadType = 4
	PayloadHandshakeRequest     PayloadType = 5
	PayloadHandshakeResponse    PayloadType = 6
	PayloadHandshakeComplete    PayloadType = 7
	PayloadEncChallengeRequest  PayloadType = 8
	PayloadEncChallengeResponse PayloadType = 9
	PayloadFlag                 PayloadType = 10
	PayloadStdErr               PayloadType = 11
	PayloadExitCode             PayloadType = 12
)

// Message types (the MessageType header field).
const (
	TypeInputStreamData      = "input_stream_data"
	TypeOutputStreamData     = "output_stream_data"
	TypeAcknowledge          = "acknowledge"
	TypeChannelClosed        = "channel_closed"
	TypeStartPublication     = "start_publication"
	TypePausePublication     = "pause_publication"
	TypeAgentSessionState    = "agent_session_state"
	TypeInteractiveShell     = "interactive_shell"
	TypeAgentTaskComplete    = "agent_task_complete"
	TypeAgentTaskAcknowledge = "agent_task_acknowledge"
)

const (
	// HeaderLength is the value of the HeaderLength field, which is also the
	// offset of the PayloadLength field.
	HeaderLength = 116

	// MaxFrameSize is the largest frame ParseMessage accepts and
	// AppendBinary produces.
	MaxFrameSize = 1 << 20

	// payloadOffset is where the payload starts: the header plus the
	// PayloadLength field.
	payloadOffset = HeaderLength + 4

	// MaxMessagePayload is the largest payload that fits in MaxFrameSize.
	MaxMessagePayload = MaxFrameSize - payloadOffset

	typeFieldLen = 32
)

// Field offsets, protocol.md §3.3.
const (
	offHeaderLength  = 0
	offMessageType   = 4
	offSchemaVersion = 36
	offCreatedDate   = 40
	offSequence      = 48
	offFlags         = 56
	offMessageID     = 64
	offDigest        = 80
	offPayloadType   = 112
	offPayloadLength = 116
)

var (
	// ErrMalformed is wrapped by every error ParseMessage, PeekMessageType
	// and PeekSequence return.
	ErrMalformed = errors.New("malformed data-channel message")

	// ErrDigestMismatch means the payload does not hash to PayloadDigest.
	// It wraps ErrMalformed.
	ErrDigestMismatch = fmt.Errorf("%w: payload digest mismatch", ErrMalformed)
)

// Message is one data-channel message (AWS's "ClientMessage"/"AgentMessage").
type Message struct {
	MessageType    string
	SchemaVersion  uint32    // 1 when zero on marshal
	CreatedDate    time.Time // millisecond precision on the wire; time.Now() if zero on marshal
	SequenceNumber int64
	Flags          uint64
	MessageID      UUID // NewUUID() if zero on marshal
	PayloadType    PayloadType
	Payload        []byte
}

// AppendBinary appends m's wire form to dst. It fills the defaults
// documented on Message without modifying m, computes the SHA-256 payload
// digest and writes MessageID with its halves swapped (UUID bytes 8–15, then
// 0–7), as the official plugin and agent do.
//
// The MessageType must be 1 to 32 bytes without leading or trailing spaces
// or NULs (readers strip those), and the frame must not exceed MaxFrameSize.
func (m *Message) AppendBinary(dst []byte) ([]byte, error) {
	if err := checkMessageType(m.MessageType); err != nil {
		return dst, err
	}
	if len(m.Payload) > MaxMessagePayload {
		return dst, fmt.Errorf("marshal %s message: payload of %d bytes exceeds %d", m.MessageType, len(m.Payload), MaxMessagePayload)
	}
	schema := m.SchemaVersion
	if schema == 0 {
		schema = 1
	}
	created := m.CreatedDate
	if created.IsZero() {
		created = time.Now()
	}
	ms := created.UnixMilli()
	if ms == 0 {
		return dst, fmt.Errorf("marshal %s message: created date is the Unix epoch, which readers reject", m.MessageType)
	}
	id := m.MessageID
	if id == (UUID{}) {
		id = NewUUID()
	}

	start := len(dst)
	dst = slices.Grow(dst, payloadOffset+len(m.Payload))
	dst = dst[:start+payloadOffset]
	h := dst[start:]
	binary.BigEndian.PutUint32(h[offHeaderLength:], HeaderLength)
	n := copy(h[offMessageType:offMessageType+typeFieldLen], m.MessageType)
	for i := offMessageType + n; i < offMessageType+typeFieldLen; i++ {
		h[i] = ' '
	}
	binary.BigEndian.PutUint32(h[offSchemaVersion:], schema)
	binary.BigEndian.PutUint64(h[offCreatedDate:], uint64(ms))
	binary.BigEndian.PutUint64(h[offSequence:], uint64(m.SequenceNumber))
	binary.BigEndian.PutUint64(h[offFlags:], m.Flags)
	copy(h[offMessageID:offMessageID+8], id[8:])
	copy(h[offMessageID+8:offMessageID+16], id[:8])
	digest := sha256.Sum256(m.Payload)
	copy(h[offDigest:offDigest+32], digest[:])
	binary.BigEndian.PutUint32(h[offPayloadType:], uint32(m.PayloadType))
	binary.BigEndian.PutUint32(h[offPayloadLength:], uint32(len(m.Payload)))
	return append(dst, m.Payload...), nil
}

// appendStreamFrame appends the wire form of a stream message whose payload
// is a followed by b (m.Payload is ignored) to dst, copying each part once
// and hashing the payload where it lands, or leaving the digest zero when
// hash is false (a peer that agreed to unhashed payloads, see
// ActionUnhashedPayloads). m must have its MessageID and CreatedDate set and
// a valid MessageType; the caller bounds the length.
func appendStreamFrame(dst []byte, m *Message, a, b []byte, hash bool) []byte {
	start := len(dst)
	n := len(a) + len(b)
	dst = slices.Grow(dst, payloadOffset+n)
	dst = dst[:start+payloadOffset+n]
	h := dst[start:]
	copy(h[payloadOffset:], a)
	copy(h[payloadOffset+len(a):], b)
	finishStreamFrame(h, m, hash)
	return dst
}

// finishStreamFrame writes m's header into h, a frame whose payload is
// already in place at payloadOffset and runs to the end of h.
func finishStreamFrame(h []byte, m *Message, hash bool) {
	binary.BigEndian.PutUint32(h[offHeaderLength:], HeaderLength)
	k := copy(h[offMessageType:offMessageType+typeFieldLen], m.MessageType)
	for i := offMessageType + k; i < offMessageType+typeFieldLen; i++ {
		h[i] = ' '
	}
	binary.BigEndian.PutUint32(h[offSchemaVersion:], 1)
	binary.BigEndian.PutUint64(h[offCreatedDate:], uint64(m.CreatedDate.UnixMilli()))
	binary.BigEndian.PutUint64(h[offSequence:], uint64(m.SequenceNumber))
	binary.BigEndian.PutUint64(h[offFlags:], m.Flags)
	copy(h[offMessageID:offMessageID+8], m.MessageID[8:])
	copy(h[offMessageID+8:offMessageID+16], m.MessageID[:8])
	binary.BigEndian.PutUint32(h[offPayloadType:], uint32(m.PayloadType))
	binary.BigEndian.PutUint32(h[offPayloadLength:], uint32(len(h)-payloadOffset))
	if hash {
		digest := sha256.Sum256(h[payloadOffset:])
		copy(h[offDigest:offDigest+32], digest[:])
	} else {
		clear(h[offDigest : offDigest+32])
	}
}

// MarshalBinary returns m's wire form; see AppendBinary.
func (m *Message) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(nil)
}

func checkMessageType(t string) error {
	switch {
	case t == "":
		return errors.New("marshal message: empty message type")
	case len(t) > typeFieldLen:
		return fmt.Errorf("marshal message: message type %q longer than %d bytes", t, typeFieldLen)
	case isTrimmed(t[0]) || isTrimmed(t[len(t)-1]):
		return fmt.Errorf("marshal message: message type %q has leading or trailing blanks", t)
	}
	return nil
}

// isTrimmed reports whether readers strip c from the ends of a MessageType.
func isTrimmed(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0:
		return true
	}
	return false
}

// ParseMessage decodes one frame. It is meant for hostile input: it never
// panics and allocates at most the MessageType string, whatever the frame
// claims.
//
// It is stricter than the official readers: HeaderLength must be 116 and
// PayloadLength must equal the number of bytes after the header. The digest
// is checked for every message type except start_publication and
// pause_publication, which the service sends without a valid one.
//
// The returned Payload aliases b.
func ParseMessage(b []byte) (Message, error) {
	return parseMessage(b, true)
}

// parseMessage is ParseMessage, checking the digest only if verify is set.
func parseMessage(b []byte, verify bool) (Message, error) {
	if err := checkFrame(b); err != nil {
		return Message{}, err
	}
	typ, err := messageType(b)
	if err != nil {
		return Message{}, err
	}
	ms := int64(binary.BigEndian.Uint64(b[offCreatedDate:]))
	if ms == 0 {
		return Message{}, fmt.Errorf("%w: %s message has no created date", ErrMalformed, typ)
	}
	created := time.UnixMilli(ms)
	if created.IsZero() {
		// Year 1: marshalling would replace it with time.Now().
		return Message{}, fmt.Errorf("%w: %s message has created date %d", ErrMalformed, typ, ms)
	}
	payload := b[payloadOffset:len(b):len(b)]
	if verify && typ != TypeStartPublication && typ != TypePausePublication {
		digest := sha256.Sum256(payload)
		if !bytes.Equal(digest[:], b[offDigest:offDigest+32]) {
			return Message{}, fmt.Errorf("%w of %s message", ErrDigestMismatch, typ)
		}
	}
	m := Message{
		MessageType:    typ,
		SchemaVersion:  binary.BigEndian.Uint32(b[offSchemaVersion:]),
		CreatedDate:    created,
		SequenceNumber: int64(binary.BigEndian.Uint64(b[offSequence:])),
		Flags:          binary.BigEndian.Uint64(b[offFlags:]),
		PayloadType:    PayloadType(binary.BigEndian.Uint32(b[offPayloadType:])),
		Payload:        payload,
	}
	copy(m.MessageID[8:], b[offMessageID:offMessageID+8])
	copy(m.MessageID[:8], b[offMessageID+8:offMessageID+16])
	return m, nil
}

// PeekMessageType returns the MessageType of frame b after the same length
// checks as ParseMessage, without looking at the payload.
func PeekMessageType(b []byte) (string, error) {
	if err := checkFrame(b); err != nil {
		return "", err
	}
	return messageType(b)
}

// PeekSequence returns the SequenceNumber of frame b after the same length
// checks as ParseMessage, without looking at the payload.
func PeekSequence(b []byte) (int64, error) {
	if err := checkFrame(b); err != nil {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(b[offSequence:])), nil
}

// checkFrame validates the lengths: frame size, HeaderLength and
// PayloadLength.
func checkFrame(b []byte) error {
	if len(b) < payloadOffset {
		return fmt.Errorf("%w: frame of %d bytes is shorter than the %d-byte header", ErrMalformed, len(b), payloadOffset)
	}
	if len(b) > MaxFrameSize {
		return fmt.Errorf("%w: frame of %d bytes exceeds %d", ErrMalformed, len(b), MaxFrameSize)
	}
	if hl := binary.BigEndian.Uint32(b[offHeaderLength:]); hl != HeaderLength {
		return fmt.Errorf("%w: header length %d, want %d", ErrMalformed, hl, HeaderLength)
	}
	if pl := binary.BigEndian.Uint32(b[offPayloadLength:]); uint64(pl) != uint64(len(b)-payloadOffset) {
		return fmt.Errorf("%w: payload length %d, frame carries %d", ErrMalformed, pl, len(b)-payloadOffset)
	}
	return nil
}

// messageType returns the trimmed MessageType field, reusing the constant
// strings for known types so that the hot path does not allocate.
func messageType(b []byte) (string, error) {
	f := b[offMessageType : offMessageType+typeFieldLen]
	i, j := 0, len(f)
	for i < j && isTrimmed(f[i]) {
		i++
	}
	for j > i && isTrimmed(f[j-1]) {
		j--
	}
	f = f[i:j]
	if len(f) == 0 {
		return "", fmt.Errorf("%w: empty message type", ErrMalformed)
	}
	for _, k := range knownTypes {
		if string(f) == k {
			return k, nil
		}
	}
	return string(f), nil
}

var knownTypes = [...]string{
	TypeInputStreamData, TypeOutputStreamData, TypeAcknowledge, TypeChannelClosed,
	TypeStartPublication, TypePausePublication, TypeAgentSessionState,
	TypeInteractiveShell, TypeAgentTaskComplete, TypeAgentTaskAcknowledge,
}
