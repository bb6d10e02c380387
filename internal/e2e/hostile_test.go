package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/coder/websocket"

	"github.com/tetherhq/tether/internal/agentcred"
	"github.com/tetherhq/tether/internal/datachannel"
	"github.com/tetherhq/tether/internal/sigv4"
	"github.com/tetherhq/tether/internal/testenv"
)

// rawCall posts body to the API, signed with creds unless creds is nil.
func rawCall(t *testing.T, s *testenv.Server, target string, body []byte, creds *sigv4.Credentials, region string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	if creds != nil {
		if err := sigv4.Sign(req, body, *creds, region, "ssm", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Type string `json:"__type"`
	}
	json.Unmarshal(b, &e)
	return resp.StatusCode, e.Type, string(b)
}

func TestHostileAPIInput(t *testing.T) {
	s := testenv.StartDev(t)
	p := s.Profile()
	good := &sigv4.Credentials{AccessKeyID: p.AccessKeyID, SecretAccessKey: p.SecretAccessKey}
	unknown := &sigv4.Credentials{AccessKeyID: "AKIAAAAAAAAAAAAAAAAA", SecretAccessKey: "x"}
	for _, tc := range []struct {
		name   string
		target string
		body   []byte
		creds  *sigv4.Credentials
		region string
		status int
		code   string
	}{
		{"unsigned", "AmazonSSM.DescribeSessions", []byte(`{"State":"Active"}`), nil, "us-east-1", 403, "MissingAuthenticationTokenException"},
		{"unknown key", "AmazonSSM.DescribeSessions", []byte(`{"State":"Active"}`), unknown, "us-east-1", 400, "UnrecognizedClientException"},
		{"wrong region", "AmazonSSM.DescribeSessions", []byte(`{"State":"Active"}`), good, "eu-west-1", 400, "InvalidSignatureException"},
		{"malformed JSON", "AmazonSSM.DescribeSessions", []byte(`{"State":`), good, "us-east-1", 400, "SerializationException"},
		{"wrong JSON type", "AmazonSSM.DescribeSessions", []byte(`{"State":42}`), good, "us-east-1", 400, "SerializationException"},
		{"unknown operation", "AmazonSSM.LaunchMissiles", []byte(`{}`), good, "us-east-1", 400, "UnknownOperationException"},
		{"oversized body", "AmazonSSM.DescribeSessions", bytes.Repeat([]byte(" "), 2<<20), good, "us-east-1", 413, "RequestEntityTooLargeException"},
		{"huge target", "AmazonSSM.StartSession", []byte(`{"Target":"` + strings.Repeat("a", 500) + `"}`), good, "us-east-1", 400, "ValidationException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, code, body := rawCall(t, s, tc.target, tc.body, tc.creds, tc.region)
			if status != tc.status || code != tc.code {
				t.Fatalf("got %d %s (%s), want %d %s", status, code, body, tc.status, tc.code)
			}
		})
	}
	t.Run("stale signature", func(t *testing.T) {
		body := []byte(`{"State":"Active"}`)
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", "AmazonSSM.DescribeSessions")
		sigv4.Sign(req, body, *good, "us-east-1", "ssm", time.Now().Add(-6*time.Minute))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), "Signature expired") {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	})
	assertHealthy(t, s)
}

func assertHealthy(t *testing.T, s *testenv.Server) {
	t.Helper()
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
}

// openData opens a data channel and sends the first frame.
func openData(t *testing.T, url string, open datachannel.OpenDataChannelInput) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(open)
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
	return c
}

// expectClosed waits for the server to close c with code.
func expectClosed(t *testing.T, c *websocket.Conn, code websocket.StatusCode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err != nil {
			if got := websocket.CloseStatus(err); got != code {
				t.Fatalf("socket ended with %v (status %d), want status %d", err, got, code)
			}
			return
		}
	}
}

func TestHostileDataChannel(t *testing.T) {
	s := testenv.StartDev(t)
	c := sdkClient(s)
	ctx := t.Context()
	start := func() *ssm.StartSessionOutput {
		out, err := c.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(s.InstanceID)})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	t.Run("bad token", func(t *testing.T) {
		out := start()
		ws := openData(t, *out.StreamUrl, datachannel.OpenDataChannelInput{MessageSchemaVersion: "1.0", TokenValue: "forged"})
		expectClosed(t, ws, websocket.StatusPolicyViolation)
	})
	t.Run("first frame is not JSON", func(t *testing.T) {
		out := start()
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(dctx, *out.StreamUrl, nil)
		if err != nil {
			t.Fatal(err)
		}
		ws.Write(dctx, websocket.MessageText, []byte("hello?"))
		expectClosed(t, ws, websocket.StatusPolicyViolation)
	})
	t.Run("token of another session", func(t *testing.T) {
		a, b := start(), start()
		ws := openData(t, *a.StreamUrl, datachannel.OpenDataChannelInput{MessageSchemaVersion: "1.0", TokenValue: *b.TokenValue})
		expectClosed(t, ws, websocket.StatusPolicyViolation)
	})
	t.Run("replayed token", func(t *testing.T) {
		out := start()
		first := openData(t, *out.StreamUrl, datachannel.OpenDataChannelInput{MessageSchemaVersion: "1.0", TokenValue: *out.TokenValue, ClientId: "c1"})
		defer first.CloseNow()
		// The relay has taken the token once the first socket hears from
		// the session (the agent's start_publication and handshake);
		// before that, the second socket could win the race for it.
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if typ, _, err := first.Read(rctx); err != nil || typ != websocket.MessageBinary {
			t.Fatalf("first socket: %v, %v; want a binary frame from the session", typ, err)
		}
		second := openData(t, *out.StreamUrl, datachannel.OpenDataChannelInput{MessageSchemaVersion: "1.0", TokenValue: *out.TokenValue, ClientId: "c2"})
		expectClosed(t, second, websocket.StatusPolicyViolation)
	})
	t.Run("malformed frames", func(t *testing.T) {
		for name, frame := range map[string][]byte{
			"short":        []byte("not a frame"),
			"wrong header": append([]byte{0, 0, 0, 99}, make([]byte, 130)...),
		} {
			t.Run(name, func(t *testing.T) {
				out := start()
				ws := openData(t, *out.StreamUrl, datachannel.OpenDataChannelInput{MessageSchemaVersion: "1.0", TokenValue: *out.TokenValue})
				wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				if err := ws.Write(wctx, websocket.MessageBinary, frame); err != nil {
					t.Fatal(err)
				}
				expectClosed(t, ws, websocket.StatusPolicyViolation)
			})
		}
	})
	t.Run("a frame with a wrong digest never reaches the shell", func(t *testing.T) {
		out := start()
		ws := openData(t, *out.StreamUrl, datachannel.OpenDataChannelInput{MessageSchemaVersion: "1.0", TokenValue: *out.TokenValue})
		defer ws.CloseNow()
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		// Wait for the agent's handshake request: this raw client does not
		// retransmit, and the relay drops frames for an absent side.
		var hreq datachannel.Message
		for {
			_, f, err := ws.Read(wctx)
			if err != nil {
				t.Fatalf("no handshake request: %v", err)
			}
			if msg, err := datachannel.ParseMessage(f); err == nil && msg.MessageType == datachannel.TypeOutputStreamData &&
				msg.PayloadType == datachannel.PayloadHandshakeRequest {
				hreq = msg
				break
			}
		}
		send := func(m datachannel.Message, corrupt bool) {
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if corrupt {
				b[len(b)-2] ^= 0xff // change the payload after the digest was computed
			}
			if err := ws.Write(wctx, websocket.MessageBinary, b); err != nil {
				t.Fatal(err)
			}
		}
		send(datachannel.NewAcknowledge(hreq), false)
		resp, _ := json.Marshal(datachannel.HandshakeResponse{ClientVersion: "1.3.0.1", ProcessedClientActions: []datachannel.ProcessedClientAction{
			{ActionType: datachannel.ActionSessionType, ActionStatus: datachannel.ActionSuccess}}})
		send(datachannel.Message{MessageType: datachannel.TypeInputStreamData, SequenceNumber: 0, PayloadType: datachannel.PayloadHandshakeResponse, Payload: resp}, false)
		// Sequence 1, corrupted: the agent must drop it, not run it.
		send(datachannel.Message{MessageType: datachannel.TypeInputStreamData, SequenceNumber: 1, PayloadType: datachannel.PayloadOutput,
			Payload: []byte("touch /tmp/should-not-exist\n")}, true)
		// Sequence 1 again, intact: it runs, which proves the corrupted one
		// was not taken for it.
		send(datachannel.Message{MessageType: datachannel.TypeInputStreamData, SequenceNumber: 1, PayloadType: datachannel.PayloadOutput,
			Payload: []byte("echo ALIVE$((1+1))\n")}, false)
		seen := ""
		for !strings.Contains(seen, "ALIVE2") {
			_, f, err := ws.Read(wctx)
			if err != nil {
				t.Fatalf("no output after a corrupted frame: %v (saw %q)", err, seen)
			}
			if msg, err := datachannel.ParseMessage(f); err == nil && msg.MessageType == datachannel.TypeOutputStreamData {
				seen += string(msg.Payload)
			}
		}
	})
	assertHealthy(t, s)
}

func TestAgentCannotClaimAnotherInstancesSession(t *testing.T) {
	s := testenv.StartDev(t)
	a := s.StartAgent("intruder")
	out, err := sdkClient(s).StartSession(t.Context(), &ssm.StartSessionInput{Target: aws.String(s.InstanceID)})
	if err != nil {
		t.Fatal(err)
	}
	id, err := agentcred.Load(a.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	post := func(instance string) int {
		body := []byte(`{"MessageSchemaVersion":"1.0","RequestId":"x","ClientId":""}`)
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/data-channel/"+*out.SessionId, bytes.NewReader(body))
		agentcred.Sign(req, body, instance, id.PrivateKey, time.Now())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(id.InstanceID); code != http.StatusForbidden {
		t.Fatalf("intruder got a data token for another instance's session: %d", code)
	}
	if code := post(s.InstanceID); code != http.StatusForbidden {
		t.Fatalf("intruder signing as the target got %d", code)
	}
	// It cannot open the target's control channel either.
	body := []byte(`{}`)
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/control-channel/"+s.InstanceID, bytes.NewReader(body))
	agentcred.Sign(req, body, s.InstanceID, id.PrivateKey, time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("control token with a foreign key: %d", resp.StatusCode)
	}
}

func TestGracefulShutdown(t *testing.T) {
	s := testenv.StartDev(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Bins.CLI, "start-session", "--target", s.InstanceID)
	cmd.Env = append(cmd.Environ(), s.Env()...)
	stdin, _ := cmd.StdinPipe()
	defer stdin.Close()
	var stdout, stderr testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, "echo UP$((1+1))\n")
	testenv.Eventually(t, 15*time.Second, func() error {
		if !strings.Contains(stdout.String(), "UP2") {
			return &waitErr{"UP2", stdout.String()}
		}
		return nil
	})
	s.Proc.Signal(syscall.SIGTERM)
	if code := s.Proc.Wait(20 * time.Second); code != 0 {
		t.Fatalf("tetherd exit code %d after SIGTERM; stderr:\n%s", code, s.Proc.Stderr.String())
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 255 || !strings.Contains(stderr.String(), "server shutting down") {
		t.Fatalf("CLI: %v stderr %q", err, stderr.String())
	}
	if !strings.Contains(s.Proc.Stderr.String(), "shutdown complete") {
		t.Fatalf("no clean shutdown in log:\n%s", s.Proc.Stderr.String())
	}
}
