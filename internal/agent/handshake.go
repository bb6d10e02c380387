package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tetherhq/tether/internal/datachannel"
)

// handshakeTimeout is how long the agent waits for the client's answer, as
// AWS's agent does.
const handshakeTimeout = 15 * time.Second

// handshake asks the client to take sessionType (with the substituted
// properties for Port sessions) and returns its answer. Every Tether session
// starts with it, shells included: the official plugin accepts that, and our
// CLI then always knows what kind of session it is in.
func handshake(ctx context.Context, s *datachannel.Stream, sessionType string, props json.RawMessage, extra ...datachannel.ClientAction) (datachannel.HandshakeResponse, error) {
	start := time.Now()
	if len(props) == 0 {
		props = json.RawMessage("null")
	}
	params, _ := json.Marshal(datachannel.SessionTypeRequest{SessionType: sessionType, Properties: props})
	actions := append([]datachannel.ClientAction{
		{ActionType: datachannel.ActionSessionType, ActionParameters: params},
		{ActionType: datachannel.ActionUnhashedPayloads, ActionParameters: json.RawMessage("{}")},
	}, extra...)
	req, _ := json.Marshal(datachannel.HandshakeRequest{AgentVersion: Version, RequestedClientActions: actions})
	if err := s.Send(ctx, datachannel.PayloadHandshakeRequest, req); err != nil {
		return datachannel.HandshakeResponse{}, err
	}
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	var resp datachannel.HandshakeResponse
	for {
		pt, p, err := s.Recv(hctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return resp, errors.New("handshake timed out: ensure the client is a current session manager plugin or tether CLI")
			}
			return resp, err
		}
		if pt != datachannel.PayloadHandshakeResponse {
			continue // stream data before the handshake completes is dropped, as AWS's agent does
		}
		if err := json.Unmarshal(p, &resp); err != nil {
			return resp, fmt.Errorf("bad handshake response: %w", err)
		}
		break
	}
	for _, a := range resp.ProcessedClientActions {
		if a.ActionType == datachannel.ActionSessionType && a.ActionStatus != datachannel.ActionSuccess {
			return resp, fmt.Errorf("client refused session type %s: %s", sessionType, a.Error)
		}
	}
	if accepted(resp, datachannel.ActionUnhashedPayloads) {
		// The client checks no digest from its answer on, and sends none
		// once HandshakeComplete (already unhashed) arrives.
		s.SetPayloadDigests(false, false)
	}
	done, _ := json.Marshal(datachannel.HandshakeComplete{HandshakeTimeToComplete: time.Since(start)})
	return resp, s.Send(ctx, datachannel.PayloadHandshakeComplete, done)
}

// ActionStreamDestinations is Tether's handshake action for sessions with
// several destinations: the client must prefix each smux stream with its
// destination's index. Other clients answer "unsupported".
const ActionStreamDestinations = "TetherStreamDestinations"

// accepted reports whether the client performed action successfully.
func accepted(resp datachannel.HandshakeResponse, action string) bool {
	for _, a := range resp.ProcessedClientActions {
		if a.ActionType == action {
			return a.ActionStatus == datachannel.ActionSuccess
		}
	}
	return false
}

// versionAbove compares dotted numeric versions: a > b. Non-numeric parts
// compare as 0, like the plugin's comparison fails closed.
func versionAbove(a, b string) bool {
	pa, pb := splitVersion(a), splitVersion(b)
	for i := range max(len(pa), len(pb)) {
		var x, y int
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			return x > y
		}
	}
	return false
}

func splitVersion(v string) []int {
	var out []int
	n, digits := 0, false
	for _, r := range v + "." {
		switch {
		case r >= '0' && r <= '9':
			n = n*10 + int(r-'0')
			digits = true
		case r == '.':
			if !digits {
				n = 0
			}
			out = append(out, n)
			n, digits = 0, false
		default:
			return nil
		}
	}
	return out
}
