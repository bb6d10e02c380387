// Package gateway serves the agent-facing endpoints: registration with an
// activation, control-channel and data-channel token requests (signed with
// the instance key), and the control-channel websocket that carries session
// dispatches and cancellations to the agent and tracks its presence.
// Server-side only.
package gateway

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/tetherhq/tether/internal/agentcred"
	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/audit"
	"github.com/tetherhq/tether/internal/bus"
	"github.com/tetherhq/tether/internal/datachannel"
	"github.com/tetherhq/tether/internal/fleet"
	"github.com/tetherhq/tether/internal/recording"
	"github.com/tetherhq/tether/internal/session"
	"github.com/tetherhq/tether/internal/store"
)

// PingInterval is how often the server pings each control channel; a ping
// unanswered within PingTimeout closes it (and the agent shows ConnectionLost).
const (
	PingInterval = 20 * time.Second
	PingTimeout  = 15 * time.Second
	maxAgentBody = 64 << 10
)

// Config configures a Gateway.
type Config struct {
	Store       store.Store
	Fleet       *fleet.Service
	Sessions    *session.Manager
	Bus         bus.Bus
	Region      string
	Logger      *slog.Logger
	BaseContext context.Context
	Now         func() time.Time
	// Audit receives the agents' records of forwarded connections.
	Audit audit.Recorder
	// Transcripts receives session transcripts (nil: agents' transcripts
	// are not acknowledged, so they stay in the agents' spools).
	Transcripts *recording.Service
}

// Gateway serves agents.
type Gateway struct {
	cfg      Config
	verifier *agentcred.Verifier
	wg       sync.WaitGroup
}

// New returns a Gateway.
func New(cfg Config) *Gateway {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BaseContext == nil {
		cfg.BaseContext = context.Background()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Audit == nil {
		cfg.Audit = audit.Discard{}
	}
	return &Gateway{cfg: cfg, verifier: agentcred.NewVerifier()}
}

// Routes registers the gateway's endpoints on mux.
func (g *Gateway) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/agent/register", g.register)
	mux.HandleFunc("POST /v1/control-channel/{id}", g.controlToken)
	mux.HandleFunc("GET /v1/control-channel/{id}", g.controlChannel)
	mux.HandleFunc("POST /v1/data-channel/{sid}", g.dataToken)
}

// Wait blocks until every control channel handler has returned.
func (g *Gateway) Wait() { g.wg.Wait() }

type tokenResponse struct {
	XMLName              xml.Name `xml:"CreateChannelResponse"`
	MessageSchemaVersion string   `xml:"MessageSchemaVersion"`
	TokenValue           string   `xml:"TokenValue"`
}

type xmlError struct {
	XMLName xml.Name
	Message string `xml:"Message"`
}

func writeXMLError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	b, _ := xml.Marshal(xmlError{XMLName: xml.Name{Local: code}, Message: msg})
	w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (g *Gateway) register(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAgentBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"__type": api.CodeRequestEntityTooLarge, "message": "body too large"})
		return
	}
	var in api.RegisterInput
	if err := json.Unmarshal(body, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"__type": api.CodeSerialization, "message": "body must be RegisterInput JSON"})
		return
	}
	inst, err := g.cfg.Fleet.RegisterInstance(r.Context(), in)
	if err != nil {
		msg := err.Error()
		switch {
		case errors.Is(err, fleet.ErrInvalidActivation):
		case errors.Is(err, store.ErrActivationExpired):
			msg = "the activation has expired: create a new one with `tether create-activation`"
		case errors.Is(err, store.ErrActivationExhausted):
			msg = "the activation's registration limit is reached: create a new activation or raise the limit"
		case errors.Is(err, store.ErrNotFound):
			msg = fleet.ErrInvalidActivation.Error()
		default:
			if len(in.PublicKey) == 32 {
				g.cfg.Logger.Error("register instance", "err", err)
				writeJSON(w, http.StatusInternalServerError, map[string]string{"__type": api.CodeInternal, "message": "internal error"})
				return
			}
		}
		g.cfg.Logger.Warn("registration refused", "activation_id", in.ActivationID, "reason", msg, "source_ip", remoteIP(r))
		writeJSON(w, http.StatusBadRequest, map[string]string{"__type": api.CodeInvalidActivation, "message": msg})
		return
	}
	writeJSON(w, http.StatusOK, api.RegisterOutput{InstanceID: inst.ID, Region: g.cfg.Region})
}

// authenticate verifies an agent-signed request for instance id.
func (g *Gateway) authenticate(w http.ResponseWriter, r *http.Request, id string) (store.Instance, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAgentBody))
	if err != nil {
		writeXMLError(w, http.StatusRequestEntityTooLarge, "ValidationException", "body too large")
		return store.Instance{}, false
	}
	p, err := agentcred.Parse(r)
	if err != nil || p.InstanceID != id {
		writeXMLError(w, http.StatusForbidden, "AccessDeniedException", "missing or malformed agent signature")
		return store.Instance{}, false
	}
	inst, err := g.cfg.Store.GetInstance(r.Context(), id)
	if err != nil {
		// Unknown and deregistered instances look the same.
		writeXMLError(w, http.StatusForbidden, "AccessDeniedException", "instance is not registered")
		return store.Instance{}, false
	}
	if err := g.verifier.Verify(r, body, p, inst.PublicKey, g.cfg.Now()); err != nil {
		g.cfg.Logger.Warn("agent signature refused", "instance_id", id, "err", err, "source_ip", remoteIP(r))
		writeXMLError(w, http.StatusForbidden, "AccessDeniedException", "agent signature does not verify")
		return store.Instance{}, false
	}
	return inst, true
}

func (g *Gateway) controlToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := g.authenticate(w, r, id); !ok {
		return
	}
	g.issueToken(w, r, store.TokenAgentControl, id)
}

// issueToken answers an agent's token request as AWS's service does:
// 201 with an XML body holding TokenValue.
func (g *Gateway) issueToken(w http.ResponseWriter, r *http.Request, kind store.TokenKind, subject string) {
	tok, err := g.cfg.Sessions.MintToken(r.Context(), kind, subject, session.AgentTokenTTL)
	if err != nil {
		writeXMLError(w, http.StatusInternalServerError, "InternalServerError", "could not issue a token")
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusCreated)
	xml.NewEncoder(w).Encode(tokenResponse{MessageSchemaVersion: "1.0", TokenValue: tok})
}

func (g *Gateway) dataToken(w http.ResponseWriter, r *http.Request) {
	sid := r.PathValue("sid")
	p, err := agentcred.Parse(r)
	if err != nil {
		writeXMLError(w, http.StatusForbidden, "AccessDeniedException", "missing or malformed agent signature")
		return
	}
	inst, ok := g.authenticate(w, r, p.InstanceID)
	if !ok {
		return
	}
	s, err := g.cfg.Sessions.Get(r.Context(), sid)
	if err != nil || s.Target != inst.ID {
		writeXMLError(w, http.StatusForbidden, "AccessDeniedException", "session does not target this instance")
		return
	}
	if session.Ended(s.Status) {
		writeXMLError(w, http.StatusBadRequest, "ValidationException", "Session is already terminated")
		return
	}
	g.issueToken(w, r, store.TokenAgentData, sid)
}

func (g *Gateway) controlChannel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	g.wg.Add(1)
	defer g.wg.Done()
	defer c.CloseNow()
	c.SetReadLimit(datachannel.MaxFrameSize)
	ctx, cancel := context.WithCancel(g.cfg.BaseContext)
	defer cancel()
	stop := context.AfterFunc(r.Context(), cancel)
	defer stop()
	log := g.cfg.Logger.With("instance_id", id)

	octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
	_, first, err := c.Read(octx)
	ocancel()
	if err != nil {
		return
	}
	var open api.OpenControlChannelInput
	if err := json.Unmarshal(first, &open); err != nil {
		c.Close(websocket.StatusPolicyViolation, "first frame must be OpenControlChannelInput JSON")
		return
	}
	if err := g.cfg.Sessions.ConsumeToken(ctx, store.TokenAgentControl, id, open.TokenValue); err != nil {
		log.Warn("control channel refused", "reason", "invalid token", "source_ip", remoteIP(r))
		c.Close(websocket.StatusPolicyViolation, "invalid or expired token")
		return
	}
	ip := open.IPAddress
	if ip == "" {
		ip = remoteIP(r)
	}
	now := g.cfg.Now()
	if err := g.cfg.Store.UpdateInstanceInfo(ctx, id, store.InstanceInfo{
		ComputerName: open.ComputerName, PlatformType: open.PlatformType, PlatformName: open.PlatformName,
		PlatformVersion: open.PlatformVersion, AgentVersion: open.AgentVersion, IPAddress: ip,
	}, now); err != nil {
		c.Close(websocket.StatusPolicyViolation, "instance is not registered")
		return
	}
	g.cfg.Store.TouchInstance(ctx, id, now)
	sub, err := g.cfg.Bus.Subscribe(ctx, bus.InstanceControl(id))
	if err != nil {
		c.Close(websocket.StatusInternalError, "bus unavailable")
		return
	}
	defer sub.Close()
	disconnected := g.cfg.Fleet.Presence().Connected(id)
	defer func() {
		disconnected()
		g.cfg.Store.TouchInstance(context.WithoutCancel(ctx), id, g.cfg.Now())
		log.Info("agent disconnected")
	}()
	log.Info("agent connected", "agent_version", open.AgentVersion, "computer_name", open.ComputerName)

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // dispatches and cancellations → agent
		defer wg.Done()
		defer cancel()
		for {
			select {
			case <-ctx.Done():
				return
			case frame, ok := <-sub.C():
				if !ok {
					return
				}
				if typ, _ := datachannel.PeekMessageType(frame); typ == fleet.MessageDisconnect {
					c.Close(websocket.StatusPolicyViolation, "instance deregistered")
					return
				}
				wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
				err := c.Write(wctx, websocket.MessageBinary, frame)
				wcancel()
				if err != nil {
					return
				}
			}
		}
	}()
	go func() { // liveness
		defer wg.Done()
		defer cancel()
		t := time.NewTicker(PingInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				pctx, pcancel := context.WithTimeout(ctx, PingTimeout)
				err := c.Ping(pctx)
				pcancel()
				if err != nil {
					log.Warn("agent ping failed", "err", err)
					return
				}
				g.cfg.Store.TouchInstance(ctx, id, g.cfg.Now())
			}
		}
	}()
	for { // agent → server
		_, frame, err := c.Read(ctx)
		if err != nil {
			break
		}
		msg, err := datachannel.ParseMessage(frame)
		if err != nil {
			log.Warn("malformed control frame; closing", "err", err)
			c.Close(websocket.StatusPolicyViolation, "malformed frame")
			break
		}
		switch msg.MessageType {
		case datachannel.TypeAgentTaskComplete:
			g.ackTask(ctx, c, msg)
		case MessageTunnelEvent:
			g.recordTunnel(ctx, id, msg.Payload, log)
		case api.MessageRecording:
			if g.cfg.Transcripts != nil {
				g.cfg.Transcripts.HandleChunk(ctx, id, msg.Payload, func(ack api.RecordingAck) { sendAck(ctx, c, ack) })
			}
		}
	}
	cancel()
	wg.Wait()
}

func (g *Gateway) ackTask(ctx context.Context, c *websocket.Conn, msg datachannel.Message) {
	var tc struct {
		TaskId string
		Topic  string
	}
	json.Unmarshal(msg.Payload, &tc)
	payload, _ := json.Marshal(map[string]any{"SchemaVersion": 1, "MessageId": msg.MessageID.String(), "TaskId": tc.TaskId, "Topic": tc.Topic})
	ack := datachannel.Message{MessageType: datachannel.TypeAgentTaskAcknowledge, Payload: payload}
	if b, err := ack.MarshalBinary(); err == nil {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c.Write(wctx, websocket.MessageBinary, b)
		cancel()
	}
}

// sendAck writes a transcript acknowledgement to an agent. It may be
// called after the channel closed (a transcript stored later): the write
// then fails and the agent asks again on its next channel.
func sendAck(ctx context.Context, c *websocket.Conn, ack api.RecordingAck) {
	payload, _ := json.Marshal(ack)
	b, err := (&datachannel.Message{MessageType: api.MessageRecordingAck, Payload: payload}).MarshalBinary()
	if err != nil {
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	c.Write(wctx, websocket.MessageBinary, b)
}

// MessageTunnelEvent is the agent's record of one forwarded connection.
const MessageTunnelEvent = "tether_tunnel_event"

// recordTunnel audits a forwarded connection, tied to its session and the
// session's owner. An agent can only report on its own sessions. (Agents
// that record transcripts send these inside them instead.)
func (g *Gateway) recordTunnel(ctx context.Context, instance string, payload []byte, log *slog.Logger) {
	var ev recording.TunnelEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		log.Warn("bad tunnel event", "err", err)
		return
	}
	s, err := g.cfg.Sessions.Get(ctx, ev.SessionID)
	if err != nil || s.Target != instance {
		log.Warn("tunnel event for a session of another instance", "session_id", ev.SessionID)
		return
	}
	g.cfg.Audit.Record(ctx, ev.AuditEvent(s))
}

func remoteIP(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}
