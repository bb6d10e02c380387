package datachannel

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// JSON payloads, with AWS's field names (protocol.md §3.2–3.8, §6.3).

// Acknowledge is the payload of an acknowledge message (§3.4).
type Acknowledge struct {
	AcknowledgedMessageType           string
	AcknowledgedMessageId             string
	AcknowledgedMessageSequenceNumber int64
	IsSequentialMessage               bool
}

// ChannelClosed is the payload of a channel_closed message (§3.8).
type ChannelClosed struct {
	MessageId     string
	CreatedDate   string // ISO-8601
	DestinationId string
	SessionId     string
	MessageType   string
	SchemaVersion int
	Output        string
	// ExitCode is Tether's extension: the remote exit status. The official
	// plugin ignores unknown fields.
	ExitCode *int `json:"ExitCode,omitempty"`
}

// Session states carried by AgentSessionState.
const (
	SessionStateConnected   = "Connected"
	SessionStateTerminating = "Terminating"
)

// AgentSessionState is the payload of agent_session_state (§3.3).
type AgentSessionState struct {
	SchemaVersion int
	SessionState  string
	SessionId     string
	ExitCode      *int   `json:"ExitCode,omitempty"` // Tether's extension
	Reason        string `json:"Reason,omitempty"`   // Tether's extension
}

// SizeData is the payload of a PayloadSize message (§3.7).
type SizeData struct {
	Cols uint32 `json:"cols"`
	Rows uint32 `json:"rows"`
}

// OpenDataChannelInput is the first (text) frame on a data-channel
// websocket (§3.2, §6.2).
type OpenDataChannelInput struct {
	MessageSchemaVersion string
	RequestId            string
	TokenValue           string
	ClientId             string
	ClientVersion        string `json:",omitempty"` // sent by the plugin
	ClientInstanceId     string `json:",omitempty"` // sent by the agent
	// TetherNoPty is Tether's extension: the client asks for a shell
	// without a PTY (piped stdin).
	TetherNoPty bool `json:",omitempty"`
}

// Handshake action types.
const (
	ActionSessionType   = "SessionType"
	ActionKMSEncryption = "KMSEncryption"
	// ActionUnhashedPayloads is Tether's: the agent offers to leave
	// PayloadDigest zero in stream messages both ways, and not to check it,
	// because TLS on every hop already protects the bytes (see
	// Stream.SetPayloadDigests). A client that answers ActionSuccess must
	// accept unhashed messages from then on, and may send them once
	// HandshakeComplete arrives. The official plugin answers "unsupported"
	// and keeps the digests.
	ActionUnhashedPayloads = "TetherUnhashedPayloads"
)

// ActionStatus values of ProcessedClientAction.
const (
	ActionSuccess     = 1
	ActionFailed      = 2
	ActionUnsupported = 3
)

// HandshakeRequest is the PayloadHandshakeRequest payload, agent to client
// (§3.6).
type HandshakeRequest struct {
	AgentVersion           string
	RequestedClientActions []ClientAction
}

// ClientAction is one action the agent asks the client to perform.
// ActionParameters holds a SessionTypeRequest or a KMSEncryptionRequest
// depending on ActionType.
type ClientAction struct {
	ActionType       string
	ActionParameters json.RawMessage
}

// SessionTypeRequest is the ActionParameters of a SessionType action.
// Properties is the session document's properties object, null for shells.
type SessionTypeRequest struct {
	SessionType string
	Properties  json.RawMessage
}

// KMSEncryptionRequest is the ActionParameters of a KMSEncryption action.
type KMSEncryptionRequest struct {
	KMSKeyId  string
	Challenge string // base64
}

// HandshakeResponse is the PayloadHandshakeResponse payload, client to
// agent.
type HandshakeResponse struct {
	ClientVersion          string
	ProcessedClientActions []ProcessedClientAction
	Errors                 []string
}

// ProcessedClientAction reports the outcome of one ClientAction.
type ProcessedClientAction struct {
	ActionType   string
	ActionStatus int
	ActionResult json.RawMessage // KMSEncryptionResponse for KMSEncryption, else null
	Error        string
}

// KMSEncryptionResponse is the ActionResult of a KMSEncryption action.
type KMSEncryptionResponse struct {
	KMSCipherTextKey  []byte // base64 on the wire
	KMSCipherTextHash []byte
}

// HandshakeComplete is the PayloadHandshakeComplete payload, agent to client.
type HandshakeComplete struct {
	HandshakeTimeToComplete time.Duration // nanoseconds on the wire
	CustomerMessage         string
}

// EncryptionChallenge is the payload of PayloadEncChallengeRequest and
// PayloadEncChallengeResponse (§5).
type EncryptionChallenge struct {
	Challenge []byte // base64 on the wire
}

// Values of a PayloadFlag payload.
const (
	FlagDisconnectToPort   uint32 = 1
	FlagTerminateSession   uint32 = 2
	FlagConnectToPortError uint32 = 3
	// FlagTetherInputEOF is Tether's: stdin closed on a no-PTY session.
	FlagTetherInputEOF uint32 = 100
)

// EncodeFlag returns the payload of a PayloadFlag message.
func EncodeFlag(f uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, f)
}

// DecodeFlag decodes the payload of a PayloadFlag message.
func DecodeFlag(p []byte) (uint32, error) {
	if len(p) != 4 {
		return 0, fmt.Errorf("%w: flag payload of %d bytes, want 4", ErrMalformed, len(p))
	}
	return binary.BigEndian.Uint32(p), nil
}

// Flags header values the official components write (§3.3); nobody
// interprets them.
const (
	flagsAck            = 3
	flagsAgentFirstData = 1
)

// NewAcknowledge returns the acknowledge message for a received stream
// message m: Flags 3, sequence 0, PayloadType 0, and an Acknowledge JSON
// payload naming m's type, id and sequence number.
func NewAcknowledge(m Message) Message {
	return Message{
		MessageType: TypeAcknowledge,
		Flags:       flagsAck,
		MessageID:   NewUUID(),
		Payload:     appendAckPayload(nil, m.MessageType, m.MessageID, m.SequenceNumber),
	}
}

// appendAckPayload appends the Acknowledge JSON. It writes the JSON by hand
// for the stream message types, which need no escaping, so that acking does
// not allocate on the hot path.
func appendAckPayload(dst []byte, typ string, id UUID, seq int64) []byte {
	if typ != TypeInputStreamData && typ != TypeOutputStreamData {
		b, err := json.Marshal(Acknowledge{
			AcknowledgedMessageType:           typ,
			AcknowledgedMessageId:             id.String(),
			AcknowledgedMessageSequenceNumber: seq,
			IsSequentialMessage:               true,
		})
		if err != nil {
			panic(err) // a struct of strings, ints and bools always marshals
		}
		return append(dst, b...)
	}
	dst = append(dst, `{"AcknowledgedMessageType":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","AcknowledgedMessageId":"`...)
	dst = id.appendTo(dst)
	dst = append(dst, `","AcknowledgedMessageSequenceNumber":`...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `,"IsSequentialMessage":true}`...)
	return dst
}

// parseAckFast decodes an Acknowledge payload laid out exactly as the
// official plugin and agent (and appendAckPayload) write it, without
// allocating. ok is false for anything else, which the caller hands to
// encoding/json.
func parseAckFast(p []byte) (typ []byte, id UUID, seq int64, ok bool) {
	p, ok = cutPrefix(p, `{"AcknowledgedMessageType":"`)
	if !ok {
		return nil, id, 0, false
	}
	end := 0
	for end < len(p) && p[end] != '"' {
		if c := p[end]; c < 0x20 || c > 0x7e || c == '\\' {
			return nil, id, 0, false // escapes, control bytes, non-ASCII: encoding/json
		}
		end++
	}
	typ, p = p[:end], p[end:]
	if p, ok = cutPrefix(p, `","AcknowledgedMessageId":"`); !ok || len(p) < 36 {
		return nil, id, 0, false
	}
	var err error
	if id, err = parseUUID(p[:36]); err != nil {
		return nil, id, 0, false
	}
	if p, ok = cutPrefix(p[36:], `","AcknowledgedMessageSequenceNumber":`); !ok {
		return nil, id, 0, false
	}
	neg := len(p) > 0 && p[0] == '-'
	if neg {
		p = p[1:]
	}
	digits := 0
	var u uint64
	for digits < len(p) && '0' <= p[digits] && p[digits] <= '9' {
		if digits == 18 || digits > 0 && u == 0 {
			return nil, id, 0, false // possible overflow, or a leading zero: let encoding/json judge
		}
		u = u*10 + uint64(p[digits]-'0')
		digits++
	}
	if digits == 0 {
		return nil, id, 0, false
	}
	seq = int64(u)
	if neg {
		seq = -seq
	}
	p = p[digits:]
	if p, ok = cutPrefix(p, `,"IsSequentialMessage":`); !ok {
		return nil, id, 0, false
	}
	if q, ok := cutPrefix(p, "true"); ok {
		p = q
	} else if p, ok = cutPrefix(p, "false"); !ok {
		return nil, id, 0, false
	}
	if string(p) != "}" {
		return nil, id, 0, false
	}
	return typ, id, seq, true
}

func cutPrefix(p []byte, prefix string) ([]byte, bool) {
	if len(p) < len(prefix) || string(p[:len(prefix)]) != prefix {
		return p, false
	}
	return p[len(prefix):], true
}
