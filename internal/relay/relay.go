// Package relay serves GET /v1/data-channel/{sid}: it authenticates the
// client's and the agent's data-channel websockets by their single-use
// tokens and forwards binary frames between them, unchanged. When both
// sockets of a session are attached to this relay, the goroutine that reads
// a frame from one writes it to the other itself; otherwise frames go over
// the bus (the peer is on another replica, or away). Both ends speak the
// AWS data-channel protocol end to end and retransmit what is not
// acknowledged, so the relay may drop frames while a side is away.
// It consumes agent_session_state, counts stream traffic for the idle
// timeout, and closes each socket after forwarding channel_closed.
// Server-side only.
package relay

import (
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

// WriteTimeout bounds one write to a socket: a peer that stops reading
// for that long is disconnected, so that it cannot hold the other side's
// reader (and so the session) forever.
const WriteTimeout = 30 * time.Second

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

	mu    sync.Mutex
	local map[string]*pair // sessions with a socket attached here
}

// pair holds the sockets of one session attached to this relay.
type pair struct {
	refs   int // attached sockets, guarded by Relay.mu
	client atomic.Pointer[socket]
	agent  atomic.Pointer[socket]
}

// socket is one attached websocket and what its writers share.
type socket struct {
	ctx context.Context
	tc  *wstransport.Conn
	// touch, if set, sees the type of every frame written to the socket.
	touch func(typ string)
	// writing is when the write in progress began (UnixNano), or 0.
	writing atomic.Int64
	// closing is set before the close handshake, which reads the socket
	// from another goroutine than its reader; from then on the reader
	// stops peeking at the read buffer (moreBuffered).
	closeMu sync.RWMutex
	closing bool
}

// moreBuffered reports whether the next frame has begun to arrive. Only
// the socket's reader calls it.
func (s *socket) moreBuffered() bool {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	return !s.closing && s.tc.Buffered() > 0
}

// closeHandshake ends the socket with a close frame and waits (briefly)
// for the peer's.
func (s *socket) closeHandshake(code websocket.StatusCode, reason string) {
	s.closeMu.Lock()
	s.closing = true
	s.closeMu.Unlock()
	s.tc.C.Close(code, reason)
}

// write sends one frame, bounded by WriteTimeout through watch.
func (s *socket) write(frame []byte) error {
	s.writing.Store(time.Now().UnixNano())
	err := s.tc.WriteMessage(s.ctx, frame)
	s.writing.Store(0)
	return err
}

// writeBatch sends frames in one write, bounded as write.
func (s *socket) writeBatch(frames [][]byte) error {
	s.writing.Store(time.Now().UnixNano())
	err := s.tc.WriteMessages(s.ctx, frames)
	s.writing.Store(0)
	return err
}

// maxRelayBatch bounds the frames read in one burst and written to the
// peer together.
const maxRelayBatch = 16

// watch closes the socket when a write has taken longer than WriteTimeout,
// until ctx ends. One sleeping goroutine per socket instead of a timer per
// frame.
func (s *socket) watch(ctx context.Context) {
	t := time.NewTicker(WriteTimeout / 6)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if w := s.writing.Load(); w != 0 && time.Since(time.Unix(0, w)) > WriteTimeout {
				s.tc.C.CloseNow()
				return
			}
		}
	}
}

// New returns a Relay.
func New(cfg Config) *Relay {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BaseContext == nil {
		cfg.BaseContext = context.Background()
	}
	return &Relay{cfg: cfg, local: map[string]*pair{}}
}

// attach registers s as the session's client or agent socket on this
// relay and returns the session's pair and a function that undoes it.
func (r *Relay) attach(sid string, agent bool, s *socket) (*pair, func()) {
	r.mu.Lock()
	p := r.local[sid]
	if p == nil {
		p = &pair{}
		r.local[sid] = p
	}
	p.refs++
	slot := &p.client
	if agent {
		slot = &p.agent
	}
	slot.Store(s) // the newest socket wins; an older one is on its way out
	r.mu.Unlock()
	return p, func() {
		r.mu.Lock()
		slot.CompareAndSwap(s, nil)
		if p.refs--; p.refs == 0 {
			delete(r.local, sid)
		}
		r.mu.Unlock()
	}
}

// Wait blocks until every relayed socket has finished.
func (r *Relay) Wait() { r.wg.Wait() }

// ServeHTTP upgrades to a websocket and relays.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	sid := req.PathValue("sid")
	tc, err := wstransport.Accept(w, req, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept wrote the HTTP error
	}
	c := tc.C
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
		r.serveAgent(ctx, tc, sid, open, log)
		return
	}
	r.serveClient(ctx, tc, sid, open, log)
}

func (r *Relay) serveClient(ctx context.Context, tc *wstransport.Conn, sid string, open datachannel.OpenDataChannelInput, log *slog.Logger) {
	c := tc.C
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
	self := &socket{ctx: ctx, tc: tc}
	p, detach := r.attach(sid, false, self)
	defer detach()
	r.startPublication(ctx, bus.SessionToAgent(sid))
	log.Info("client attached")
	var wg sync.WaitGroup
	wg.Go(func() { r.pumpToSocket(ctx, self, sub) })
	wctx, wcancel := context.WithCancel(ctx)
	wg.Go(func() { self.watch(wctx) })
	r.pumpFromSocket(ctx, self, &p.agent, bus.SessionToAgent(sid), func(typ string, frame []byte) bool {
		return typ == datachannel.TypeInputStreamData || typ == datachannel.TypeAcknowledge
	}, log)
	wcancel()
	c.CloseNow()
	sub.Close()
	wg.Wait()
	if cur, err := m.Get(context.WithoutCancel(ctx), sid); err == nil && !session.Ended(cur.Status) && cur.Status != session.StatusConnecting {
		m.SetStatus(context.WithoutCancel(ctx), sid, session.StatusDisconnected)
	}
	log.Info("client detached")
}

func (r *Relay) serveAgent(ctx context.Context, tc *wstransport.Conn, sid string, open datachannel.OpenDataChannelInput, log *slog.Logger) {
	c := tc.C
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

	var lastTraffic atomic.Int64
	lastTraffic.Store(time.Now().UnixNano())
	touch := func(typ string) {
		if typ == datachannel.TypeInputStreamData || typ == datachannel.TypeOutputStreamData {
			lastTraffic.Store(time.Now().UnixNano())
		}
	}
	self := &socket{ctx: ctx, tc: tc, touch: touch}
	p, detach := r.attach(sid, true, self)
	defer detach()
	r.startPublication(ctx, bus.SessionToClient(sid))
	log.Info("agent attached")
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
	wg.Go(func() { r.pumpToSocket(ictx, self, sub) })
	wg.Go(func() { self.watch(ictx) })
	wg.Add(1)
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
	r.pumpFromSocket(ctx, self, &p.client, bus.SessionToClient(sid), func(typ string, frame []byte) bool {
		switch typ {
		case datachannel.TypeAgentSessionState:
			onState(frame)
			return false
		case datachannel.TypeOutputStreamData, datachannel.TypeAcknowledge:
			touch(typ)
			return true
		}
		return false
	}, log)
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
func (r *Relay) pumpToSocket(ctx context.Context, s *socket, sub bus.Subscription) {
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
			if s.touch != nil {
				s.touch(typ)
			}
			if err := s.write(frame); err != nil {
				// Stop writing, but let the reader take what the peer sent
				// before it went (the plugin's TerminateSession flag on
				// Ctrl-C); it ends the socket when the peer is gone.
				return
			}
			if typ == datachannel.TypeChannelClosed {
				// Give the peer a moment to read it, then end the socket.
				s.closeHandshake(websocket.StatusNormalClosure, "session ended")
				return
			}
		}
	}
}

// pumpFromSocket reads frames and forwards those allow() accepts to the
// peer: written directly to the peer's socket when it is attached to this
// relay (*peer), else published to subject. Frames that arrived together
// (an ack and the message it travelled with) are written to the peer
// together, so the peer wakes once. A malformed frame closes the socket: a
// conforming peer never sends one.
func (r *Relay) pumpFromSocket(ctx context.Context, self *socket, peer *atomic.Pointer[socket], subject string, allow func(typ string, frame []byte) bool, log *slog.Logger) {
	tc, c := self.tc, self.tc.C
	var batch [][]byte
	var to *socket
	// A failed write drops the frames, as the bus does for a peer that is
	// going away; the peer's own reader ends its socket.
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if len(batch) == 1 {
			to.write(batch[0])
		} else {
			to.writeBatch(batch)
		}
		for i, f := range batch {
			tc.RecycleFrame(f)
			batch[i] = nil
		}
		batch = batch[:0]
	}
	defer flush()
	for {
		typ, frame, err := tc.ReadFrame(ctx)
		if err != nil {
			if !errors.Is(err, context.Canceled) && websocket.CloseStatus(err) == -1 {
				log.Debug("data channel read ended", "err", err)
			}
			return
		}
		if typ != websocket.MessageBinary {
			tc.RecycleFrame(frame)
			continue // a reconnecting plugin may repeat its open frame
		}
		mt, err := datachannel.PeekMessageType(frame)
		if err != nil {
			log.Warn("malformed data-channel frame; closing socket", "err", err)
			c.Close(websocket.StatusPolicyViolation, "malformed frame")
			return
		}
		if !allow(mt, frame) {
			tc.RecycleFrame(frame)
		} else if p := peer.Load(); p != nil {
			if p != to {
				flush()
				to = p
			}
			if p.touch != nil {
				p.touch(mt)
			}
			batch = append(batch, frame)
		} else {
			flush()
			// The bus keeps the frame: it is not recycled.
			if err := r.cfg.Bus.Publish(ctx, subject, frame); err != nil {
				return
			}
		}
		if len(batch) >= maxRelayBatch || !self.moreBuffered() {
			flush()
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
