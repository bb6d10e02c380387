package datachannel

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPayloadJSON(t *testing.T) {
	exit := 3
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"ack", Acknowledge{"output_stream_data", "00112233-4455-6677-8899-aabbccddeeff", 7, true},
			`{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageId":"00112233-4455-6677-8899-aabbccddeeff","AcknowledgedMessageSequenceNumber":7,"IsSequentialMessage":true}`},
		{"channel closed", ChannelClosed{MessageId: "m", CreatedDate: "2024-01-02T03:04:05.000Z", DestinationId: "c", SessionId: "s", MessageType: TypeChannelClosed, SchemaVersion: 1},
			`{"MessageId":"m","CreatedDate":"2024-01-02T03:04:05.000Z","DestinationId":"c","SessionId":"s","MessageType":"channel_closed","SchemaVersion":1,"Output":""}`},
		{"channel closed with exit code", ChannelClosed{SessionId: "s", ExitCode: &exit},
			`{"MessageId":"","CreatedDate":"","DestinationId":"","SessionId":"s","MessageType":"","SchemaVersion":0,"Output":"","ExitCode":3}`},
		{"session state", AgentSessionState{SchemaVersion: 1, SessionState: SessionStateConnected, SessionId: "s"},
			`{"SchemaVersion":1,"SessionState":"Connected","SessionId":"s"}`},
		{"size", SizeData{Cols: 120, Rows: 40}, `{"cols":120,"rows":40}`},
		{"open plugin", OpenDataChannelInput{MessageSchemaVersion: "1.0", RequestId: "r", TokenValue: "t", ClientId: "c", ClientVersion: "1.2.677.0"},
			`{"MessageSchemaVersion":"1.0","RequestId":"r","TokenValue":"t","ClientId":"c","ClientVersion":"1.2.677.0"}`},
		{"open agent", OpenDataChannelInput{MessageSchemaVersion: "1.0", RequestId: "r", TokenValue: "t", ClientInstanceId: "i-1"},
			`{"MessageSchemaVersion":"1.0","RequestId":"r","TokenValue":"t","ClientId":"","ClientInstanceId":"i-1"}`},
		{"handshake request", HandshakeRequest{AgentVersion: "3.3.987.0", RequestedClientActions: []ClientAction{{
			ActionType:       ActionSessionType,
			ActionParameters: json.RawMessage(`{"SessionType":"Port","Properties":{"portNumber":"22"}}`),
		}}}, `{"AgentVersion":"3.3.987.0","RequestedClientActions":[{"ActionType":"SessionType","ActionParameters":{"SessionType":"Port","Properties":{"portNumber":"22"}}}]}`},
		{"session type shell", SessionTypeRequest{SessionType: "Standard_Stream"}, `{"SessionType":"Standard_Stream","Properties":null}`},
		{"kms request", KMSEncryptionRequest{KMSKeyId: "k", Challenge: "Yw=="}, `{"KMSKeyId":"k","Challenge":"Yw=="}`},
		{"handshake response", HandshakeResponse{ClientVersion: "1.2.677.0", ProcessedClientActions: []ProcessedClientAction{
			{ActionType: ActionSessionType, ActionStatus: ActionSuccess},
		}}, `{"ClientVersion":"1.2.677.0","ProcessedClientActions":[{"ActionType":"SessionType","ActionStatus":1,"ActionResult":null,"Error":""}],"Errors":null}`},
		{"kms result", KMSEncryptionResponse{KMSCipherTextKey: []byte{1, 2}}, `{"KMSCipherTextKey":"AQI=","KMSCipherTextHash":null}`},
		{"handshake complete", HandshakeComplete{HandshakeTimeToComplete: 1500 * time.Millisecond, CustomerMessage: "hi"},
			`{"HandshakeTimeToComplete":1500000000,"CustomerMessage":"hi"}`},
		{"challenge", EncryptionChallenge{Challenge: []byte{0xff}}, `{"Challenge":"/w=="}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("got  %s\nwant %s", b, tt.want)
			}
		})
	}
}

func TestFlag(t *testing.T) {
	for _, f := range []uint32{FlagDisconnectToPort, FlagTerminateSession, FlagConnectToPortError, FlagTetherInputEOF} {
		p := EncodeFlag(f)
		if len(p) != 4 || p[3] != byte(f) || p[0]|p[1]|p[2] != 0 {
			t.Errorf("EncodeFlag(%d) = %x", f, p)
		}
		got, err := DecodeFlag(p)
		if err != nil || got != f {
			t.Errorf("DecodeFlag(%x) = %d, %v", p, got, err)
		}
	}
	for _, p := range [][]byte{nil, {1}, {0, 0, 0, 0, 1}} {
		if _, err := DecodeFlag(p); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeFlag(%x) error = %v, want ErrMalformed", p, err)
		}
	}
}

func TestNewAcknowledge(t *testing.T) {
	id := NewUUID()
	tests := []struct {
		typ string
		seq int64
	}{
		{TypeOutputStreamData, 0},
		{TypeInputStreamData, 1 << 40},
		{TypeOutputStreamData, -1},
		{`we"ird\type`, 5}, // escaped by the slow path
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			ack := NewAcknowledge(Message{MessageType: tt.typ, MessageID: id, SequenceNumber: tt.seq})
			if ack.MessageType != TypeAcknowledge || ack.Flags != 3 || ack.SequenceNumber != 0 || ack.PayloadType != 0 {
				t.Errorf("header %+v", ack)
			}
			want, _ := json.Marshal(Acknowledge{tt.typ, id.String(), tt.seq, true})
			if string(ack.Payload) != string(want) {
				t.Errorf("payload %s\nwant    %s", ack.Payload, want)
			}
			b, err := ack.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseMessage(b); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseAckFast(t *testing.T) {
	id := "00112233-4455-6677-8899-aabbccddeeff"
	tests := []struct {
		name   string
		in     string
		fastOK bool
	}{
		{"ours", string(appendAckPayload(nil, TypeOutputStreamData, UUID{1}, 42)), true},
		{"protocol.md example", `{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageId":"` + id + `","AcknowledgedMessageSequenceNumber":7,"IsSequentialMessage":true}`, true},
		{"false", `{"AcknowledgedMessageType":"input_stream_data","AcknowledgedMessageId":"` + id + `","AcknowledgedMessageSequenceNumber":0,"IsSequentialMessage":false}`, true},
		{"negative", `{"AcknowledgedMessageType":"x","AcknowledgedMessageId":"` + id + `","AcknowledgedMessageSequenceNumber":-12,"IsSequentialMessage":true}`, true},
		{"18 digits", `{"AcknowledgedMessageType":"x","AcknowledgedMessageId":"` + id + `","AcknowledgedMessageSequenceNumber":999999999999999999,"IsSequentialMessage":true}`, true},
		{"19 digits", `{"AcknowledgedMessageType":"x","AcknowledgedMessageId":"` + id + `","AcknowledgedMessageSequenceNumber":9223372036854775807,"IsSequentialMessage":true}`, false},
		{"leading zero", `{"AcknowledgedMessageType":"x","AcknowledgedMessageId":"` + id + `","AcknowledgedMessageSequenceNumber":07,"IsSequentialMessage":true}`, false},
		{"spaces", `{"AcknowledgedMessageType": "x", "AcknowledgedMessageId": "` + id + `", "AcknowledgedMessageSequenceNumber": 7, "IsSequentialMessage": true}`, false},
		{"reordered", `{"AcknowledgedMessageId":"` + id + `","AcknowledgedMessageType":"x","AcknowledgedMessageSequenceNumber":7,"IsSequentialMessage":true}`, false},
		{"escape", `{"AcknowledgedMessageType":"a\"b","AcknowledgedMessageId":"` + id + `","AcknowledgedMessageSequenceNumber":7,"IsSequentialMessage":true}`, false},
		{"bad id", `{"AcknowledgedMessageType":"x","AcknowledgedMessageId":"not-a-uuid-not-a-uuid-not-a-uuid-123","AcknowledgedMessageSequenceNumber":7,"IsSequentialMessage":true}`, false},
		{"trailing", `{"AcknowledgedMessageType":"x","AcknowledgedMessageId":"` + id + `","AcknowledgedMessageSequenceNumber":7,"IsSequentialMessage":true}x`, false},
		{"empty", ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, uid, seq, ok := parseAckFast([]byte(tt.in))
			if ok != tt.fastOK {
				t.Fatalf("fast path ok = %v, want %v", ok, tt.fastOK)
			}
			if ok {
				checkAckAgainstJSON(t, []byte(tt.in), typ, uid, seq)
			}
		})
	}
	in := []byte(tests[1].in)
	if n := testing.AllocsPerRun(100, func() { parseAckFast(in) }); n != 0 {
		t.Errorf("parseAckFast: %v allocs, want 0", n)
	}
}

func checkAckAgainstJSON(t *testing.T, in, typ []byte, id UUID, seq int64) {
	t.Helper()
	var a Acknowledge
	if err := json.Unmarshal(in, &a); err != nil {
		t.Fatalf("fast path accepted what encoding/json rejects (%v): %q", err, in)
	}
	if a.AcknowledgedMessageType != string(typ) || a.AcknowledgedMessageId != id.String() && !strings.EqualFold(a.AcknowledgedMessageId, id.String()) ||
		a.AcknowledgedMessageSequenceNumber != seq {
		t.Fatalf("fast path %q %s %d, encoding/json %+v", typ, id, seq, a)
	}
}

// FuzzParseAckFast checks the allocation-free ack decoder against
// encoding/json.
func FuzzParseAckFast(f *testing.F) {
	f.Add(appendAckPayload(nil, TypeOutputStreamData, NewUUID(), 42))
	f.Add(appendAckPayload(nil, TypeInputStreamData, NewUUID(), -1))
	f.Fuzz(func(t *testing.T, in []byte) {
		if typ, id, seq, ok := parseAckFast(in); ok {
			checkAckAgainstJSON(t, in, typ, id, seq)
		}
	})
}
