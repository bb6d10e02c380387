// Package agent is tether-agent: it registers a host with an activation,
// then dials out to the server (never listening), keeps a control channel
// with pings and reconnects with jittered exponential backoff, and runs the
// sessions the server dispatches (a shell in a PTY, or without one for piped
// input) over the data-channel protocol. It must not import server packages
// (store, bus, SQL): a test checks the binary's dependencies.
package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/tetherhq/tether/internal/agentcred"
	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/datachannel"
	"github.com/tetherhq/tether/internal/wstransport"
)

// Version is the agent's version, reported to the server. It has four
// numeric parts because the official plugin compares it that way.
const Version = "3.3.0.1"

// ErrDeregistered means the server no longer knows this instance.
var ErrDeregistered = errors.New("this instance is not registered with the server (deregistered?): run `tether-agent register` with a new activation")

// Backoff bounds for reconnecting.
const (
	minBackoff = 1 * time.Second
	maxBackoff = 60 * time.Second
	// PingInterval is how often the agent pings the server.
	PingInterval = 20 * time.Second
)

// Config configures an Agent.
type Config struct {
	StateDir   string
	HTTPClient *http.Client // default: http.DefaultClient semantics with a 15 s timeout
	Logger     *slog.Logger
	// Shell overrides the login shell of the agent's user.
	Shell string
	// RecordingMinFree is the free disk space the transcript spool needs
	// for a session to start (default DefaultRecordingMinFree).
	RecordingMinFree uint64
	// NoRecording turns transcripts off (benchmarks; not for production:
	// sessions then leave no transcript).
	NoRecording bool
	// DeniedNetworks are destinations port sessions to a remote host may
	// not reach (default DefaultDeniedNetworks; set an empty non-nil slice
	// to allow everything).
	DeniedNetworks []netip.Prefix
}

// Agent runs on a managed host.
type Agent struct {
	cfg Config
	id  agentcred.Identity

	mu       sync.Mutex
	sessions map[string]context.CancelFunc
	ctrl     *websocket.Conn // the current control channel, nil while down
	wg       sync.WaitGroup
	spool    *spool
	portRecs map[string]*recorder // port sessions' transcripts, by session id
}

// MessageTunnelEvent is the control-channel message type carrying a
// TunnelEvent (JSON) from the agent to the server's audit log.
const MessageTunnelEvent = "tether_tunnel_event"

// reportTunnel sends a forwarded connection's record to the server. Events
// while the control channel is down are logged locally only.
func (a *Agent) reportTunnel(ev TunnelEvent) {
	a.cfg.Logger.Info("forwarded connection ended", "session_id", ev.SessionID, "destination", ev.Destination,
		"bytes_in", ev.BytesIn, "bytes_out", ev.BytesOut, "duration", ev.End.Sub(ev.Start).Round(time.Millisecond), "err", ev.Error)
	a.mu.Lock()
	c := a.ctrl
	rec := a.portRecs[ev.SessionID]
	a.mu.Unlock()
	if rec.event(ev) {
		// Into the session's transcript: spooled, so nothing is lost while
		// the control channel is down.
		return
	}
	if c == nil {
		return
	}
	payload, _ := json.Marshal(ev)
	b, err := (&datachannel.Message{MessageType: MessageTunnelEvent, Payload: payload}).MarshalBinary()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.Write(ctx, websocket.MessageBinary, b)
}

// New loads the identity from the state dir.
func New(cfg Config) (*Agent, error) {
	id, err := agentcred.Load(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.DeniedNetworks == nil {
		cfg.DeniedNetworks = DefaultDeniedNetworks
	}
	if cfg.RecordingMinFree == 0 {
		cfg.RecordingMinFree = DefaultRecordingMinFree
	}
	sp := newSpool(filepath.Join(cfg.StateDir, "transcripts"), cfg.RecordingMinFree, cfg.Logger)
	return &Agent{cfg: cfg, id: id, sessions: map[string]context.CancelFunc{}, spool: sp, portRecs: map[string]*recorder{}}, nil
}

// InstanceID returns the registered instance id.
func (a *Agent) InstanceID() string { return a.id.InstanceID }

// RegisterConfig is what registration needs.
type RegisterConfig struct {
	Endpoint       string
	ActivationID   string
	ActivationCode string
	Name           string
	StateDir       string
	HTTPClient     *http.Client
}

// Register exchanges an activation for an instance identity and stores it.
func Register(ctx context.Context, rc RegisterConfig) (agentcred.Identity, error) {
	if rc.HTTPClient == nil {
		rc.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	pub, priv, err := agentcred.GenerateKey()
	if err != nil {
		return agentcred.Identity{}, err
	}
	host, _ := os.Hostname()
	body, _ := json.Marshal(api.RegisterInput{ActivationID: rc.ActivationID, ActivationCode: rc.ActivationCode,
		PublicKey: pub, Name: rc.Name, ComputerName: host})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(rc.Endpoint, "/")+"/v1/agent/register", bytes.NewReader(body))
	if err != nil {
		return agentcred.Identity{}, fmt.Errorf("bad endpoint %q: %w", rc.Endpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := rc.HTTPClient.Do(req)
	if err != nil {
		return agentcred.Identity{}, fmt.Errorf("reach %s: %w", rc.Endpoint, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		var e struct{ Message string }
		json.Unmarshal(rb, &e)
		if e.Message == "" {
			e.Message = resp.Status
		}
		return agentcred.Identity{}, fmt.Errorf("registration refused: %s", e.Message)
	}
	var out api.RegisterOutput
	if err := json.Unmarshal(rb, &out); err != nil || out.InstanceID == "" {
		return agentcred.Identity{}, fmt.Errorf("registration: unexpected answer from %s", rc.Endpoint)
	}
	id := agentcred.Identity{InstanceID: out.InstanceID, Endpoint: strings.TrimRight(rc.Endpoint, "/"), Region: out.Region, PrivateKey: priv}
	if err := agentcred.Save(rc.StateDir, id); err != nil {
		return agentcred.Identity{}, err
	}
	return id, nil
}

// Run connects and serves until ctx ends (nil) or the instance turns out to
// be deregistered (ErrDeregistered).
func (a *Agent) Run(ctx context.Context) error {
	log := a.cfg.Logger.With("instance_id", a.id.InstanceID)
	if err := a.spool.recoverOrphans(); err != nil {
		return err
	}
	backoff := minBackoff
	defer a.wg.Wait()
	defer a.cancelAll()
	for {
		start := time.Now()
		err := a.connectOnce(ctx, log)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrDeregistered) {
			log.Error("instance is not registered; stopping", "err", err)
			return ErrDeregistered
		}
		if time.Since(start) > 2*maxBackoff {
			backoff = minBackoff
		}
		wait := jitter(backoff)
		log.Warn("control channel down; reconnecting", "err", err, "retry_in", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// jitter returns a random duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(d/2)+1))
	if err != nil {
		return d
	}
	return d/2 + time.Duration(n.Int64())
}

// signedPost POSTs body to path with the instance signature and returns the
// token from the XML answer.
func (a *Agent) signedPost(ctx context.Context, path string, body []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.id.Endpoint+path, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	agentcred.Sign(req, body, a.id.InstanceID, a.id.PrivateKey, time.Now())
	resp, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated {
		if resp.StatusCode == http.StatusForbidden && bytes.Contains(rb, []byte("not registered")) {
			return "", ErrDeregistered
		}
		var e struct {
			Message string `xml:"Message"`
		}
		xml.Unmarshal(rb, &e)
		return "", fmt.Errorf("%s: %s %s", path, resp.Status, e.Message)
	}
	var tr struct {
		TokenValue string `xml:"TokenValue"`
	}
	if err := xml.Unmarshal(rb, &tr); err != nil || tr.TokenValue == "" {
		return "", fmt.Errorf("%s: no token in answer", path)
	}
	return tr.TokenValue, nil
}

// dial opens a websocket to the server; each message goes out in one write.
func (a *Agent) dial(ctx context.Context, path string) (*wstransport.Conn, error) {
	u, err := wstransport.WebsocketURL(a.id.Endpoint, path)
	if err != nil {
		return nil, err
	}
	wc, _, err := wstransport.Dial(ctx, u, &websocket.DialOptions{HTTPClient: a.cfg.HTTPClient})
	if err != nil {
		return nil, err
	}
	wc.C.SetReadLimit(datachannel.MaxFrameSize)
	return wc, nil
}

func requestID() string { return datachannel.NewUUID().String() }

func (a *Agent) connectOnce(ctx context.Context, log *slog.Logger) error {
	body, _ := json.Marshal(map[string]string{"MessageSchemaVersion": "1.0", "RequestId": requestID()})
	tok, err := a.signedPost(ctx, "/v1/control-channel/"+a.id.InstanceID, body)
	if err != nil {
		return err
	}
	dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
	wc, err := a.dial(dctx, "/v1/control-channel/"+a.id.InstanceID+"?role=subscribe&stream=input")
	dcancel()
	if err != nil {
		return fmt.Errorf("open control channel: %w", err)
	}
	c := wc.C
	defer c.CloseNow()
	open := api.OpenControlChannelInput{MessageSchemaVersion: "1.0", RequestID: requestID(), TokenValue: tok, AgentVersion: Version}
	fillHostInfo(&open, a.id.Endpoint)
	ob, _ := json.Marshal(open)
	if err := c.Write(ctx, websocket.MessageText, ob); err != nil {
		return err
	}
	log.Info("control channel open", "endpoint", a.id.Endpoint)
	a.mu.Lock()
	a.ctrl = c
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.ctrl = nil
		a.mu.Unlock()
	}()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	acks := make(chan api.RecordingAck, 64)
	uploadDone := make(chan struct{})
	go func() {
		defer close(uploadDone)
		a.uploadLoop(cctx, c, acks)
	}()
	defer func() { <-uploadDone }()
	defer cancel()
	go func() {
		t := time.NewTicker(PingInterval)
		defer t.Stop()
		for {
			select {
			case <-cctx.Done():
				return
			case <-t.C:
				pctx, pcancel := context.WithTimeout(cctx, 15*time.Second)
				err := c.Ping(pctx)
				pcancel()
				if err != nil {
					c.CloseNow()
					return
				}
			}
		}
	}()
	for {
		_, frame, err := c.Read(cctx)
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusPolicyViolation {
				var ce websocket.CloseError
				if errors.As(err, &ce) && strings.Contains(ce.Reason, "deregistered") {
					return ErrDeregistered
				}
			}
			return err
		}
		msg, err := datachannel.ParseMessage(frame)
		if err != nil {
			log.Warn("malformed control message", "err", err)
			continue
		}
		switch msg.MessageType {
		case datachannel.TypeInteractiveShell:
			var env api.TaskEnvelope
			var task api.SessionTask
			if err := json.Unmarshal(msg.Payload, &env); err != nil {
				log.Warn("bad session task envelope", "err", err)
				continue
			}
			if err := json.Unmarshal([]byte(env.Content), &task); err != nil || task.SessionID == "" {
				log.Warn("bad session task", "err", err)
				continue
			}
			a.startSession(ctx, task, log)
		case datachannel.TypeChannelClosed:
			var cc datachannel.ChannelClosed
			if json.Unmarshal(msg.Payload, &cc) == nil {
				a.cancelSession(cc.SessionId)
			}
		case api.MessageRecordingAck:
			deliverAck(msg.Payload, acks)
		case MessageSSHPublicKey:
			var k PushedKey
			if err := json.Unmarshal(msg.Payload, &k); err != nil || k.OSUser == "" || k.PublicKey == "" {
				log.Warn("bad pushed ssh key", "err", err)
				continue
			}
			if err := addPushedKey(a.cfg.StateDir, k, time.Now()); err != nil {
				log.Error("store pushed ssh key", "err", err)
				continue
			}
			log.Info("ssh public key accepted", "os_user", k.OSUser, "expires", k.ExpiresAt, "principal", k.Principal)
		}
	}
}

func (a *Agent) startSession(ctx context.Context, task api.SessionTask, log *slog.Logger) {
	a.mu.Lock()
	if _, dup := a.sessions[task.SessionID]; dup {
		a.mu.Unlock()
		return
	}
	sctx, cancel := context.WithCancel(ctx)
	a.sessions[task.SessionID] = cancel
	a.wg.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.wg.Done()
		defer func() {
			a.mu.Lock()
			delete(a.sessions, task.SessionID)
			a.mu.Unlock()
			cancel()
		}()
		slog := log.With("session_id", task.SessionID)
		if err := a.runSession(sctx, task, slog); err != nil {
			slog.Warn("session ended with error", "err", err)
		}
	}()
}

func (a *Agent) cancelSession(id string) {
	a.mu.Lock()
	cancel := a.sessions[id]
	a.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func (a *Agent) cancelAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.sessions {
		c()
	}
}

func fillHostInfo(o *api.OpenControlChannelInput, endpoint string) {
	o.ComputerName, _ = os.Hostname()
	switch runtime.GOOS {
	case "linux":
		o.PlatformType = "Linux"
	case "darwin":
		o.PlatformType = "MacOS"
	case "windows":
		o.PlatformType = "Windows"
	default:
		o.PlatformType = runtime.GOOS
	}
	o.PlatformName, o.PlatformVersion = osRelease()
	o.IPAddress = outboundIP(endpoint)
}

// osRelease reads NAME and VERSION_ID from /etc/os-release.
func osRelease() (name, version string) {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return runtime.GOOS, ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		switch k {
		case "NAME":
			name = v
		case "VERSION_ID":
			version = v
		}
	}
	return name, version
}

// outboundIP is the local address used to reach the server (no packet is
// sent: a UDP "connection" only picks a route).
func outboundIP(endpoint string) string {
	host := endpoint
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	host, _, _ = strings.Cut(host, "/")
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "443")
	}
	c, err := net.Dial("udp", host)
	if err != nil {
		return ""
	}
	defer c.Close()
	if ua, ok := c.LocalAddr().(*net.UDPAddr); ok {
		return ua.IP.String()
	}
	return ""
}
