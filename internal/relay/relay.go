// Package relay serves GET /v1/data-channel/{sid}: it authenticates the
// client's and the agent's data-channel websockets by their single-use
// tokens and forwards binary frames between them over the bus, unchanged.
// Both ends speak the AWS data-channel protocol end to end and retransmit
// what is not acknowledged, so the relay may drop frames while a side is away.
// It consumes agent_session_state, counts stream traffic for the idle
// timeout, and closes each socket after forwarding channel_closed.
// Server-side only.
package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tetherhq/tether/internal/bus"
	"github.com/tetherhq/tether/internal/datachannel"
	"github.com/tetherhq/tether/internal/session"
	"github.com/tetherhq/tether/internal/store"
	"github.com/tetherhq/tether/internal/wstransport"
)

// OpenTimeout bounds the wait for the first (text) frame.
const OpenTimeout = 10 * time.Second

// Config configures a Relay.
type Config struct {
	Sessions *session.Manager
	Bus      bus.Bus
	Logger   *slog.Logger
	// BaseContext ends every relayed socket when cancelled (shutdown).
	BaseContext context.Context
}

// Relay is the data-channel endpoint.
type Relay struct {
	cfg Config
	wg  sync.WaitGroup
}

// New returns a Relay.
func New(cfg Config) *Relay {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BaseContext == nil {
		cfg.BaseContext = context.Background()
	}
	return &Relay{cfg: cfg}
}

// Wait blocks until every relayed socket has finished.
func (r *Relay) Wait() { r.wg.Wait() }

// ServeHTTP upgrades to a websocket and relays.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	sid := req.PathValue("sid")
	c, err := websocket.Accept(w, req, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept wrote the HTTP error
	}
	r.wg.Add(1)
	defer r.wg.Done()
	defer c.CloseNow()
	c.SetReadLimit(datachannel.MaxFrameSize)
	ctx, cancel := context.WithCancel(r.cfg.BaseContext)
	defer cancel()
	stop := context.AfterFunc(req.Context(), cancel)
	defer stop()

	octx, ocancel := context.WithTimeout(ctx, OpenTimeout)
	_, first, err := c.Read(octx)
	ocancel()
	if err != nil {
		return
	}
	var open datachannel.OpenDataChannelInput
	if err := json.Unmarshal(first, &open); err != nil {
		c.Close(websocket.StatusPolicyViolation, "first frame must be OpenDataChannelInput JSON")
		return
	}
	log := r.cfg.Logger.With("session_id", sid)
	if open.ClientInstanceId != "" {
		r.serveAgent(ctx, c, sid, open, log)
		return
	}
	r.serveClient(ctx, c, sid, open, log)
}

func (r *Relay) serveClient(ctx context.Context, c *websocket.Conn, sid string, open datachannel.OpenDataChannelInput, log *slog.Logger) {
	m := r.cfg.Sessions
	if err := m.ConsumeToken(ctx, store.TokenClientData, sid, open.TokenValue); err != nil {
		log.Warn("client data channel refused", "reason", "invalid token")
		c.Close(websocket.StatusPolicyViolation, "invalid or expired token")
		return
	}
	s, err := m.Get(ctx, sid)
	if err != nil {
		c.Close(websocket.StatusInternalError, "session not found")
		return
	}
	sub, err := r.cfg.Bus.Subscribe(ctx, bus.SessionToClient(sid))
	if err != nil {
		c.Close(websocket.StatusInternalError, "bus unavailable")
		return
	}
	defer sub.Close()
	switch {
	case session.Ended(s.Status):
		c.Close(websocket.StatusNormalClosure, "session has ended")
		return
	case s.Status == session.StatusConnecting:
		if err := m.Dispatch(ctx, s, open.TetherNoPty); err != nil {
			log.Error("dispatch session", "err", err)
		}
	case s.Status == session.StatusDisconnected:
		m.SetStatus(ctx, sid, session.StatusConnected)
	}
	r.startPublication(ctx, bus.SessionToAgent(sid))
	log.Info("client attached")
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.pumpToSocket(ctx, c, sub, nil)
	}()
	r.pumpFromSocket(ctx, c, bus.SessionToAgent(sid), func(typ string, frame []byte) bool {
		return typ == datachannel.TypeInputStreamData || typ == datachannel.TypeAcknowledge
	}, nil, log)
	c.CloseNow()
	sub.Close()
	<-done
	if cur, err := m.Get(context.WithoutCancel(ctx), sid); err == nil && !session.Ended(cur.Status) && cur.Status != session.StatusConnecting {
		m.SetStatus(context.WithoutCancel(ctx), sid, session.StatusDisconnected)
	}
	log.Info("client detached")
}

func (r *Relay) serveAgent(ctx context.Context, c *websocket.Conn, sid string, open datachannel.OpenDataChannelInput, log *slog.Logger) {
	m := r.cfg.Sessions
	if err := m.ConsumeToken(ctx, store.TokenAgentData, sid, open.TokenValue); err != nil {
		log.Warn("agent data channel refused", "reason", "invalid token", "instance_id", open.ClientInstanceId)
		c.Close(websocket.StatusPolicyViolation, "invalid or expired token")
		return
	}
	s, err := m.Get(ctx, sid)
	if err != nil || s.Target != open.ClientInstanceId {
		log.Warn("agent data channel refused", "reason", "instance is not the session's target", "instance_id", open.ClientInstanceId)
		c.Close(websocket.StatusPolicyViolation, "instance is not this session's target")
		return
	}
	sub, err := r.cfg.Bus.Subscribe(ctx, bus.SessionToAgent(sid))
	if err != nil {
		c.Close(websocket.StatusInternalError, "bus unavailable")
		return
	}
	defer sub.Close()
	log = log.With("instance_id", s.Target)
	r.startPublication(ctx, bus.SessionToClient(sid))
	log.Info("agent attached")

	var lastTraffic atomic.Int64
	lastTraffic.Store(time.Now().UnixNano())
	touch := func(typ string) {
		if typ == datachannel.TypeInputStreamData || typ == datachannel.TypeOutputStreamData {
			lastTraffic.Store(time.Now().UnixNano())
		}
	}
	var ended atomic.Bool
	onState := func(frame []byte) {
		msg, err := datachannel.ParseMessage(frame)
		if err != nil {
			log.Warn("bad agent_session_state frame", "err", err)
			return
		}
		var st datachannel.AgentSessionState
		if err := json.Unmarshal(msg.Payload, &st); err != nil {
			log.Warn("bad agent_session_state payload", "err", err)
			return
		}
		switch st.SessionState {
		case "Connected":
			m.SetStatus(ctx, sid, session.StatusConnected)
		case "Terminating", "Terminated":
			ended.Store(true)
			details := "exited"
			if st.ExitCode != nil {
				details = "exited with status " + itoa(*st.ExitCode)
			}
			status := session.StatusTerminated
			if st.Reason != "" {
				details = st.Reason
				if st.ExitCode == nil {
					status = session.StatusFailed
				}
			}
			m.End(ctx, sid, status, details, st.ExitCode)
		}
	}

	idle, maxDur := m.Limits(s)
	var deadline <-chan time.Time
	if maxDur > 0 {
		t := time.NewTimer(time.Until(s.StartDate.Add(maxDur)))
		defer t.Stop()
		deadline = t.C
	}
	ictx, icancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		r.pumpToSocket(ictx, c, sub, touch)
	}()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(min(idle/4, 30*time.Second))
		defer tick.Stop()
		for {
			select {
			case <-ictx.Done():
				return
			case <-deadline:
				ended.Store(true)
				m.End(ictx, sid, session.StatusTerminated, "maximum session duration of "+maxDur.String()+" reached", nil)
				return
			case <-tick.C:
				if time.Since(time.Unix(0, lastTraffic.Load())) > idle {
					ended.Store(true)
					m.End(ictx, sid, session.StatusTerminated, "idle timeout: no traffic for "+idle.String(), nil)
					return
				}
			}
		}
	}()
	r.pumpFromSocket(ctx, c, bus.SessionToClient(sid), func(typ string, frame []byte) bool {
		switch typ {
		case datachannel.TypeAgentSessionState:
			onState(frame)
			return false
		case datachannel.TypeOutputStreamData, datachannel.TypeAcknowledge:
			touch(typ)
			return true
		}
		return false
	}, nil, log)
	icancel()
	c.CloseNow()
	sub.Close()
	wg.Wait()
	if !ended.Load() && ctx.Err() == nil {
		cur, err := m.Get(context.WithoutCancel(ctx), sid)
		if err == nil && !session.Ended(cur.Status) {
			status := session.StatusTerminated
			if cur.Status == session.StatusConnecting {
				status = session.StatusFailed
			}
			m.End(context.WithoutCancel(ctx), sid, status, "agent connection lost", nil)
		}
	}
	log.Info("agent detached")
}

// pumpToSocket writes subscription frames to the socket until the
// subscription ends, a write fails, or it forwarded channel_closed.
func (r *Relay) pumpToSocket(ctx context.Context, c *websocket.Conn, sub bus.Subscription, touch func(string)) {
	for {
		select {
		case <-ctx.Done():
			return
		case frame, ok := <-sub.C():
			if !ok {
				return
			}
			typ, err := datachannel.PeekMessageType(frame)
			if err != nil {
				continue
			}
			if touch != nil {
				touch(typ)
			}
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err = c.Write(wctx, websocket.MessageBinary, frame)
			cancel()
			if err != nil {
				// Stop writing, but let the reader take what the peer sent
				// before it went (the plugin's TerminateSession flag on
				// Ctrl-C); it ends the socket when the peer is gone.
				return
			}
			if typ == datachannel.TypeChannelClosed {
				// Give the peer a moment to read it, then end the socket.
				c.Close(websocket.StatusNormalClosure, "session ended")
				return
			}
		}
	}
}

// pumpFromSocket reads frames and publishes those allow() accepts to subject.
// A malformed frame closes the socket: a conforming peer never sends one.
func (r *Relay) pumpFromSocket(ctx context.Context, c *websocket.Conn, subject string, allow func(typ string, frame []byte) bool, _ func(), log *slog.Logger) {
	var buf bytes.Buffer
	for {
		typ, frame, err := wstransport.ReadFrame(ctx, c, &buf)
		if err != nil {
			if !errors.Is(err, context.Canceled) && websocket.CloseStatus(err) == -1 {
				log.Debug("data channel read ended", "err", err)
			}
			return
		}
		if typ != websocket.MessageBinary {
			continue // a reconnecting plugin may repeat its open frame
		}
		mt, err := datachannel.PeekMessageType(frame)
		if err != nil {
			log.Warn("malformed data-channel frame; closing socket", "err", err)
			c.Close(websocket.StatusPolicyViolation, "malformed frame")
			return
		}
		if !allow(mt, frame) {
			continue
		}
		if err := r.cfg.Bus.Publish(ctx, subject, frame); err != nil {
			return
		}
	}
}

// startPublication tells the side subscribed to subject that its peer has
// (re)attached, so it resends what the relay dropped meanwhile at once.
func (r *Relay) startPublication(ctx context.Context, subject string) {
	b, err := (&datachannel.Message{MessageType: datachannel.TypeStartPublication, Payload: []byte{}}).MarshalBinary()
	if err != nil {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	r.cfg.Bus.Publish(pctx, subject, b)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
