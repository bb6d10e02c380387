package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/term"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/datachannel"
	"github.com/tetherhq/tether/internal/wstransport"
)

// ClientVersion is what the CLI reports on the data channel. Four numeric
// parts, like the official plugin's, because agents compare it numerically
// (≥ 1.1.70: smux for port forwarding; > 1.2.331.0: no smux keep-alive).
const ClientVersion = "1.3.0.1"

// sessionIO is the terminal side of a session.
type sessionIO struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// tty is the terminal's file when stdin is a terminal, else nil.
	tty *os.File
	// forwards are the --forward specs, in the order of the session's
	// destinations.
	forwards []forwardSpec
}

// forwardSpec is one --forward LOCAL:[HOST:]PORT.
type forwardSpec struct {
	local string // local port, "0" = pick one
	dest  string // PORT or HOST:PORT
}

// parseForward parses LOCAL:PORT or LOCAL:HOST:PORT.
func parseForward(v string) (forwardSpec, error) {
	local, dest, ok := strings.Cut(v, ":")
	if !ok || local == "" || dest == "" {
		return forwardSpec{}, fmt.Errorf("--forward %q: want LOCAL:PORT or LOCAL:HOST:PORT", v)
	}
	if _, err := strconv.ParseUint(local, 10, 16); err != nil {
		return forwardSpec{}, fmt.Errorf("--forward %q: %q is not a local port", v, local)
	}
	return forwardSpec{local: local, dest: dest}, nil
}

// sessionResult is how a session ended.
type sessionResult struct {
	exitCode *int
	output   string
	quit     bool // the user typed ~.
}

// portProperties are the Port session properties the handshake carries.
type portProperties struct {
	PortNumber          string `json:"portNumber"`
	Type                string `json:"type"`
	LocalPortNumber     string `json:"localPortNumber"`
	Host                string `json:"host"`
	LocalUnixSocket     string `json:"localUnixSocket"`
	LocalConnectionType string `json:"localConnectionType"`
	Destinations        string `json:"destinations"`
}

// runSession attaches to a started session's data channel and runs it.
func runSession(ctx context.Context, c *Client, out api.StartSessionOutput, sio sessionIO) (sessionResult, error) {
	dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
	tc, _, err := wstransport.Dial(dctx, out.StreamURL, nil)
	dcancel()
	if err != nil {
		return sessionResult{}, fmt.Errorf("open the data channel %s: %w", out.StreamURL, err)
	}
	conn := tc.C
	defer conn.CloseNow()
	conn.SetReadLimit(datachannel.MaxFrameSize)
	open := datachannel.OpenDataChannelInput{MessageSchemaVersion: "1.0", RequestId: datachannel.NewUUID().String(),
		TokenValue: out.TokenValue, ClientId: datachannel.NewUUID().String(), ClientVersion: ClientVersion, TetherNoPty: sio.tty == nil}
	ob, _ := json.Marshal(open)
	if err := conn.Write(ctx, websocket.MessageText, ob); err != nil {
		return sessionResult{}, err
	}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var res sessionResult
	closed := make(chan struct{})
	var closeOnce sync.Once
	stream := datachannel.NewStream(datachannel.Config{
		Role:       datachannel.RoleClient,
		MaxPayload: datachannel.SmuxPayload,
		OnControl: func(m datachannel.Message) {
			if m.MessageType != datachannel.TypeChannelClosed {
				return
			}
			var cc datachannel.ChannelClosed
			json.Unmarshal(m.Payload, &cc)
			mu.Lock()
			res.exitCode, res.output = cc.ExitCode, cc.Output
			mu.Unlock()
			closeOnce.Do(func() { close(closed) })
		},
	})
	runErr := make(chan error, 1)
	go func() { runErr <- stream.Run(sctx, tc) }()

	// The mode runs until the session ends one way or another.
	modeCtx, modeCancel := context.WithCancel(sctx)
	defer modeCancel()
	quit := make(chan struct{})
	modeDone := make(chan error, 1)
	go func() {
		modeDone <- runMode(modeCtx, c, stream, out.SessionID, sio, quit)
	}()

	var retErr error
	terminate := func() {
		tctx, tcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		c.Call(tctx, api.TargetSSM+"TerminateSession", api.SessionIDInput{SessionID: out.SessionID}, nil)
		tcancel()
	}
	select {
	case <-closed:
	case <-quit:
		res.quit = true
		terminate()
	case err := <-modeDone:
		if err != nil {
			retErr = err
		}
		// The mode ended by itself (stdin closed in SSH mode): end the
		// session and wait briefly for channel_closed.
		terminate()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
		}
	case <-ctx.Done():
		terminate()
		retErr = ctx.Err()
	case err := <-runErr:
		if err == nil {
			err = errors.New("data channel closed")
		}
		retErr = fmt.Errorf("lost the data channel: %w", err)
	}
	// Everything before channel_closed is already queued: let the mode
	// drain it, then stop.
	stream.Close()
	select {
	case <-modeDone:
	case <-time.After(5 * time.Second):
	}
	modeCancel()
	cancel()
	mu.Lock()
	defer mu.Unlock()
	return res, retErr
}

// runMode performs the handshake (if the agent asks for one) and runs the
// session in the mode it names.
func runMode(ctx context.Context, c *Client, s *datachannel.Stream, sid string, sio sessionIO, quit chan<- struct{}) error {
	pt, p, err := s.Recv(ctx)
	if err != nil {
		return nil
	}
	if pt != datachannel.PayloadHandshakeRequest {
		// An agent that does not handshake: a shell, starting with output.
		return runShellMode(ctx, s, sio, quit, p)
	}
	sessionType, props, unhashed, err := answerHandshake(ctx, s, p)
	if err != nil {
		return err
	}
	// Wait for HandshakeComplete; it may carry a message for the user.
	for {
		pt, p, err := s.Recv(ctx)
		if err != nil {
			return nil
		}
		if pt == datachannel.PayloadHandshakeComplete {
			if unhashed {
				s.SetPayloadDigests(false, false)
			}
			var hc datachannel.HandshakeComplete
			if json.Unmarshal(p, &hc) == nil && hc.CustomerMessage != "" {
				fmt.Fprintln(sio.stderr, hc.CustomerMessage)
			}
			break
		}
	}
	if sessionType != "Port" {
		return runShellMode(ctx, s, sio, quit, nil)
	}
	var pp portProperties
	if len(props) > 0 {
		if err := json.Unmarshal(props, &pp); err != nil {
			return fmt.Errorf("bad port properties from the agent: %w", err)
		}
	}
	if pp.Type == "LocalPortForwarding" {
		return runPortForward(ctx, s, sid, pp, sio)
	}
	return runStdioForward(ctx, s, sio)
}

// answerHandshake replies to a HandshakeRequest and returns the session
// type and properties it asked for, and whether it agreed to unhashed
// payloads (then the caller stops hashing when HandshakeComplete arrives).
func answerHandshake(ctx context.Context, s *datachannel.Stream, p []byte) (string, json.RawMessage, bool, error) {
	var req datachannel.HandshakeRequest
	if err := json.Unmarshal(p, &req); err != nil {
		return "", nil, false, fmt.Errorf("bad handshake request from the agent: %w", err)
	}
	resp := datachannel.HandshakeResponse{ClientVersion: ClientVersion}
	unhashed := false
	var sessionType string
	var props json.RawMessage
	for _, a := range req.RequestedClientActions {
		switch a.ActionType {
		case datachannel.ActionSessionType:
			var st datachannel.SessionTypeRequest
			json.Unmarshal(a.ActionParameters, &st)
			pa := datachannel.ProcessedClientAction{ActionType: a.ActionType, ActionStatus: datachannel.ActionSuccess}
			switch st.SessionType {
			case "Standard_Stream", "InteractiveCommands", "NonInteractiveCommands", "Port":
				sessionType, props = st.SessionType, st.Properties
			default:
				pa.ActionStatus, pa.Error = datachannel.ActionFailed, "unknown session type "+st.SessionType
			}
			resp.ProcessedClientActions = append(resp.ProcessedClientActions, pa)
		case "TetherStreamDestinations":
			resp.ProcessedClientActions = append(resp.ProcessedClientActions, datachannel.ProcessedClientAction{
				ActionType: a.ActionType, ActionStatus: datachannel.ActionSuccess})
		case datachannel.ActionUnhashedPayloads:
			resp.ProcessedClientActions = append(resp.ProcessedClientActions, datachannel.ProcessedClientAction{
				ActionType: a.ActionType, ActionStatus: datachannel.ActionSuccess})
			unhashed = true
		case datachannel.ActionKMSEncryption:
			resp.ProcessedClientActions = append(resp.ProcessedClientActions, datachannel.ProcessedClientAction{
				ActionType: a.ActionType, ActionStatus: datachannel.ActionFailed, Error: "this tether CLI does not support KMS encryption yet"})
		default:
			resp.ProcessedClientActions = append(resp.ProcessedClientActions, datachannel.ProcessedClientAction{
				ActionType: a.ActionType, ActionStatus: datachannel.ActionUnsupported})
		}
	}
	b, _ := json.Marshal(resp)
	if unhashed {
		// The agent sends unhashed messages once it has read this answer.
		s.SetPayloadDigests(true, false)
	}
	if err := s.Send(ctx, datachannel.PayloadHandshakeResponse, b); err != nil {
		return "", nil, false, err
	}
	if sessionType == "" {
		return "", nil, false, errors.New("the agent asked for no session type")
	}
	return sessionType, props, unhashed, nil
}

// runShellMode is the interactive (or piped) shell: terminal in raw mode,
// size updates, `~.`, stdout/stderr apart.
func runShellMode(ctx context.Context, s *datachannel.Stream, sio sessionIO, quit chan<- struct{}, first []byte) error {
	if sio.tty != nil {
		state, err := term.MakeRaw(int(sio.tty.Fd()))
		if err == nil {
			defer term.Restore(int(sio.tty.Fd()), state)
		}
		sendSize(ctx, s, sio.tty)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-winch:
					sendSize(ctx, s, sio.tty)
				}
			}
		}()
	}
	if len(first) > 0 {
		sio.stdout.Write(first)
	}
	go func() { // terminal → agent
		buf := make([]byte, 32<<10)
		var esc escapeFilter
		for {
			n, err := sio.stdin.Read(buf)
			if n > 0 {
				p := buf[:n]
				if sio.tty != nil {
					var q bool
					if p, q = esc.filter(p); q {
						close(quit)
						return
					}
				}
				if len(p) > 0 && s.Send(ctx, datachannel.PayloadOutput, p) != nil {
					return
				}
			}
			if err != nil {
				if sio.tty == nil {
					s.Send(ctx, datachannel.PayloadFlag, datachannel.EncodeFlag(datachannel.FlagTetherInputEOF))
				}
				return
			}
		}
	}()
	for { // agent → terminal, until the stream is closed and drained
		pt, p, err := s.Recv(context.Background())
		if err != nil {
			return nil
		}
		switch pt {
		case datachannel.PayloadOutput:
			sio.stdout.Write(p)
		case datachannel.PayloadStdErr:
			sio.stderr.Write(p)
		}
	}
}

// portListener is one local listener of a port session; hdr, if set, is
// written first on each of its streams (the destination index).
type portListener struct {
	ln  net.Listener
	hdr []byte
}

// runPortForward listens locally and carries each accepted connection as
// one smux stream, as the official plugin does; with several --forward
// specs, one listener each, and each stream names its destination.
func runPortForward(ctx context.Context, s *datachannel.Stream, sid string, pp portProperties, sio sessionIO) error {
	var listeners []portListener
	defer func() {
		for _, l := range listeners {
			l.ln.Close()
		}
	}()
	if pp.Destinations != "" {
		if len(sio.forwards) != len(strings.Split(pp.Destinations, "\n")) {
			return errors.New("the agent's destinations do not match the --forward flags")
		}
		for i, f := range sio.forwards {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", f.local))
			if err != nil {
				return fmt.Errorf("listen on port %s for %s: %w", f.local, f.dest, err)
			}
			listeners = append(listeners, portListener{ln: ln, hdr: []byte{byte(i >> 8), byte(i)}})
			fmt.Fprintf(sio.stdout, "Port %d opened for sessionId %s (to %s).\n", ln.Addr().(*net.TCPAddr).Port, sid, f.dest)
		}
	} else {
		var ln net.Listener
		var err error
		if pp.LocalConnectionType == "unix" && pp.LocalUnixSocket != "" {
			ln, err = net.Listen("unix", pp.LocalUnixSocket)
		} else {
			port := pp.LocalPortNumber
			if port == "" {
				port = "0"
			}
			ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
		}
		if err != nil {
			return fmt.Errorf("listen for port forwarding: %w", err)
		}
		listeners = append(listeners, portListener{ln: ln})
		if ta, ok := ln.Addr().(*net.TCPAddr); ok {
			fmt.Fprintf(sio.stdout, "Port %s opened for sessionId %s.\n", strconv.Itoa(ta.Port), sid)
		} else {
			fmt.Fprintf(sio.stdout, "Unix socket %s opened for sessionId %s.\n", pp.LocalUnixSocket, sid)
		}
	}
	fmt.Fprintln(sio.stdout, "Waiting for connections...")
	// smux v1, as the plugin speaks it; our agents' keep-alive is off for
	// this client version, and so is ours.
	sess := datachannel.NewMux(s, true, datachannel.MuxConfig{
		// One smux frame per data-channel message, as large as v1 allows.
		MaxFrameSize: datachannel.SmuxFrameSize,
		// What the agent sent and the local connections have not read
		// yet; beyond it the data channel pushes back. The plugin's
		// default.
		MaxReceiveBuffer: 4 << 20,
		OnOther: func(pt datachannel.PayloadType, b []byte) {
			if pt == datachannel.PayloadFlag {
				if f, _ := datachannel.DecodeFlag(b); f == datachannel.FlagConnectToPortError {
					fmt.Fprintln(sio.stderr, "Connection to destination port failed, check the agent's log.")
				}
			}
		},
	})
	defer sess.Close()
	// The mux ends when the data channel does: the session has ended.
	ended := sess.CloseChan()
	go func() {
		select {
		case <-ctx.Done():
		case <-ended:
		}
		for _, l := range listeners {
			l.ln.Close()
		}
		sess.Close()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	// Connections still open when the session ends are closed, so a local
	// client that keeps its side open cannot hold the CLI up.
	var openMu sync.Mutex
	open := map[net.Conn]struct{}{}
	defer func() {
		openMu.Lock()
		for c := range open {
			c.Close()
		}
		openMu.Unlock()
	}()
	for _, l := range listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				local, err := l.ln.Accept()
				if err != nil {
					return
				}
				openMu.Lock()
				open[local] = struct{}{}
				openMu.Unlock()
				st, err := sess.OpenStream()
				if err != nil {
					local.Close()
					return
				}
				if l.hdr != nil {
					if _, err := st.Write(l.hdr); err != nil {
						local.Close()
						st.Close()
						continue
					}
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					pipe(local, st)
					openMu.Lock()
					delete(open, local)
					openMu.Unlock()
				}()
			}
		}()
	}
	<-ended
	return nil
}

// pipe copies both ways until both directions end.
func pipe(a net.Conn, b io.ReadWriteCloser) {
	done := make(chan struct{})
	go func() {
		datachannel.CopyIn(b, a)
		b.Close()
		close(done)
	}()
	io.Copy(a, b)
	if tc, ok := a.(*net.TCPConn); ok {
		tc.CloseWrite()
	} else {
		a.Close()
	}
	<-done
	a.Close()
}

// runStdioForward carries stdin/stdout as the single connection (SSH's
// ProxyCommand). It returns when stdin ends; the caller then ends the
// session.
func runStdioForward(ctx context.Context, s *datachannel.Stream, sio sessionIO) error {
	inDone := make(chan struct{})
	go func() {
		defer close(inDone)
		buf := make([]byte, datachannel.SmuxPayload) // one message per read
		for {
			n, err := sio.stdin.Read(buf)
			if n > 0 && s.Send(ctx, datachannel.PayloadOutput, buf[:n]) != nil {
				return
			}
			if err != nil {
				return
			}
		}
	}()
	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		for {
			pt, p, err := s.Recv(context.Background())
			if err != nil {
				return
			}
			switch pt {
			case datachannel.PayloadOutput:
				if _, err := sio.stdout.Write(p); err != nil {
					return
				}
			case datachannel.PayloadFlag:
				if f, _ := datachannel.DecodeFlag(p); f == datachannel.FlagConnectToPortError {
					fmt.Fprintln(sio.stderr, "Connection to destination port failed, check the agent's log.")
				}
			}
		}
	}()
	select {
	case <-inDone:
		// Give the agent a moment to deliver the destination's last words
		// (the stream keeps them ordered before channel_closed).
		s.WaitAcked(ctx)
		return nil
	case <-outDone:
		return nil
	case <-ctx.Done():
		return nil
	}
}

func sendSize(ctx context.Context, s *datachannel.Stream, tty *os.File) {
	w, h, err := term.GetSize(int(tty.Fd()))
	if err != nil || w <= 0 || h <= 0 {
		return
	}
	b, _ := json.Marshal(datachannel.SizeData{Cols: uint32(w), Rows: uint32(h)})
	s.Send(ctx, datachannel.PayloadSize, b)
}
