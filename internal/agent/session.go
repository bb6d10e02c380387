package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/creack/pty"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/asciicast"
	"github.com/tetherhq/tether/internal/datachannel"
	"github.com/tetherhq/tether/internal/document"
)

// A finished session waits for the client to acknowledge its last output
// as long as acknowledgements keep coming (a slow client on a busy link),
// but gives up after ackStall without progress or drainLimit in all.
const (
	ackStall   = 5 * time.Second
	drainLimit = 2 * time.Minute
)

// waitDelivered waits until every sent message is acknowledged, or the
// client stops acknowledging.
func waitDelivered(ctx context.Context, s *datachannel.Stream) {
	ctx, cancel := context.WithTimeout(ctx, drainLimit)
	defer cancel()
	last := s.Stats().AcksReceived
	for {
		wctx, wcancel := context.WithTimeout(ctx, ackStall)
		err := s.WaitAcked(wctx)
		wcancel()
		if err == nil || ctx.Err() != nil {
			return
		}
		now := s.Stats().AcksReceived
		if now == last {
			return // no progress: the client is gone or stuck
		}
		last = now
	}
}

func (a *Agent) runSession(ctx context.Context, task api.SessionTask, log *slog.Logger) error {
	body, _ := json.Marshal(map[string]string{"MessageSchemaVersion": "1.0", "RequestId": requestID(), "ClientId": ""})
	tok, err := a.signedPost(ctx, "/v1/data-channel/"+task.SessionID, body)
	if err != nil {
		return fmt.Errorf("data channel token: %w", err)
	}
	dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
	wc, err := a.dial(dctx, "/v1/data-channel/"+task.SessionID+"?role=publish_subscribe")
	dcancel()
	if err != nil {
		return fmt.Errorf("open data channel: %w", err)
	}
	c := wc.C
	defer c.CloseNow()
	open := datachannel.OpenDataChannelInput{MessageSchemaVersion: "1.0", RequestId: requestID(), TokenValue: tok, ClientInstanceId: a.id.InstanceID}
	ob, _ := json.Marshal(open)
	if err := c.Write(ctx, websocket.MessageText, ob); err != nil {
		return err
	}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream := datachannel.NewStream(datachannel.Config{
		Role:       datachannel.RoleAgent,
		MaxPayload: datachannel.SmuxPayload,
		Logger:     log,
		OnControl: func(m datachannel.Message) {
			if m.MessageType == datachannel.TypeChannelClosed {
				cancel()
			}
		},
	})
	defer stream.Close()
	runDone := make(chan error, 1)
	go func() { runDone <- stream.Run(sctx, wc) }()

	sendState := func(state string, exit *int, reason string) {
		p, _ := json.Marshal(datachannel.AgentSessionState{SchemaVersion: 1, SessionState: state, SessionId: task.SessionID, ExitCode: exit, Reason: reason})
		wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer wcancel()
		if err := stream.SendControl(wctx, datachannel.Message{MessageType: datachannel.TypeAgentSessionState, Flags: 3, Payload: p}); err != nil {
			log.Debug("send session state", "state", state, "err", err)
		}
	}
	// The stream attaches its transport asynchronously; SendControl needs it.
	if err := waitAttached(sctx, stream); err != nil {
		return err
	}
	sendState("Connected", nil, "")

	doc, err := document.Parse(task.DocumentContent, "JSON")
	if err != nil {
		sendState("Terminating", nil, "the session document is not valid: "+err.Error())
		return err
	}
	var props json.RawMessage
	if doc.SessionType == document.SessionPort {
		if props, err = doc.Render(task.Parameters); err != nil {
			sendState("Terminating", nil, "the session document's properties: "+err.Error())
			return err
		}
	}
	var extra []datachannel.ClientAction
	if doc.SessionType == document.SessionPort && strings.Contains(string(props), `"destinations"`) {
		extra = append(extra, datachannel.ClientAction{ActionType: ActionStreamDestinations, ActionParameters: json.RawMessage("{}")})
	}
	resp, err := handshake(sctx, stream, doc.SessionType, props, extra...)
	if err != nil {
		log.Warn("handshake failed", "err", err)
		sendState("Terminating", nil, err.Error())
		return err
	}
	var exit *int
	var reason string
	switch doc.SessionType {
	case document.SessionStandardStream, document.SessionInteractiveCommands, document.SessionNonInteractiveCommands:
		exit, reason, err = a.runShell(ctx, sctx, stream, task, doc, runDone, log)
		if err != nil {
			return err
		}
	case document.SessionPort:
		pp, perr := doc.Port(task.Parameters)
		if perr != nil {
			sendState("Terminating", nil, perr.Error())
			return perr
		}
		if pp.Destinations != "" && !accepted(resp, ActionStreamDestinations) {
			reason = "this session has several destinations (--forward), which only the tether CLI can use; use AWS-StartPortForwardingSession with this client"
			break
		}
		rec, rerr := a.startEventsTranscript(task, func(err error) { cancel() })
		if rerr != nil {
			log.Error("session refused: no transcript", "err", rerr)
			reason = "this agent records every session and cannot record this one: " + rerr.Error()
			break
		}
		defer a.stopEventsTranscript(task.SessionID, rec)
		ps := &portSession{a: a, log: log, sid: task.SessionID, stream: stream, props: pp, client: resp.ClientVersion}
		log.Info("port session running", "type", pp.Type, "port", pp.PortNumber, "host", pp.Host, "client_version", resp.ClientVersion)
		if perr := ps.run(sctx); perr != nil {
			reason = perr.Error()
		}
		if reason == "" && ctx.Err() != nil {
			reason = "agent shutting down"
		}
		waitDelivered(sctx, stream)
	default:
		reason = "session type " + doc.SessionType + " is not supported by this agent yet"
	}
	if exit != nil || reason != "" || sctx.Err() == nil {
		sendState("Terminating", exit, reason)
	}
	// Close before cancelling: the close handshake reads what the peer
	// still sends (acks), so the socket ends with a FIN after our last
	// frame. Cancelling first makes the websocket drop the connection with
	// unread input, and the kernel's RST can discard the Terminating state
	// (with the exit status) before the server reads it.
	c.Close(websocket.StatusNormalClosure, "session over")
	cancel()
	<-runDone
	if exit != nil {
		log.Info("session finished", "exit_code", *exit)
	} else {
		log.Info("session finished", "reason", reason)
	}
	return nil
}

// plan is what a session runs and how.
type plan struct {
	id                   identity
	argv                 []string
	argv0                string
	pty                  bool
	profile              string // written to the shell's input at start
	separate             bool   // NonInteractiveCommands: stderr as StdErr, then ExitCode
	stdoutPfx, stderrPfx string
	signals              bool // NonInteractiveCommands: 0x03/0x1C are signals
	recordInput          bool // preferences: input goes into the transcript
	recordingFailOpen    bool // preferences: run even when the transcript fails
}

// planSession decides the identity, command line and terminal of a shell
// or commands session. Its errors are shown to the user.
func (a *Agent) planSession(task api.SessionTask, doc *document.Document) (p plan, err error) {
	prefs := doc.Inputs
	if len(task.Preferences) > 0 {
		if pd, err := document.Parse(task.Preferences, ""); err == nil {
			prefs = pd.Inputs
		}
	}
	defer func() { p.recordInput, p.recordingFailOpen = prefs.RecordInput, prefs.RecordingFailOpen }()
	switch doc.SessionType {
	case document.SessionStandardStream:
		id, err := resolveIdentity(prefs, task.RunAsUser, a.id.InstanceID, false)
		if err != nil {
			return p, err
		}
		sh := id.shell
		if a.cfg.Shell != "" {
			sh = a.cfg.Shell
		}
		p = plan{id: id, argv: []string{sh}, pty: !task.NoPty, profile: prefs.ShellProfile.Linux}
		if p.pty {
			p.argv0 = "-" + filepath.Base(sh) // a login shell, as ssh starts it
		}
	default:
		cp, err := doc.LinuxCommands(task.Parameters)
		if err != nil {
			return p, err
		}
		if strings.TrimSpace(cp.Commands) == "" {
			return p, errors.New("the document has no commands for Linux")
		}
		id, err := resolveIdentity(prefs, task.RunAsUser, a.id.InstanceID, cp.RunAsElevated)
		if err != nil {
			return p, err
		}
		p = plan{id: id, argv: []string{"/bin/sh", "-c", cp.Commands}}
		if doc.SessionType == document.SessionInteractiveCommands {
			p.pty = true
		} else {
			p.signals = true
			p.separate = cp.SeparateOutputStream
			p.stdoutPfx, p.stderrPfx = cp.StdOutSeparatorPrefix, cp.StdErrSeparatorPrefix
		}
	}
	return p, nil
}

// runShell runs a shell or commands session until the process exits (exit
// status), the session is cancelled (sctx), or the data channel is lost
// (runDone; returned as an error).
func (a *Agent) runShell(ctx, sctx context.Context, stream *datachannel.Stream, task api.SessionTask, doc *document.Document, runDone <-chan error, log *slog.Logger) (exit *int, reason string, err error) {
	p, err := a.planSession(task, doc)
	if err != nil {
		log.Warn("session refused", "err", err)
		return nil, err.Error(), nil
	}
	recFailed := make(chan error, 1)
	rec, err := a.startTranscript(task, p, func(err error) {
		select {
		case recFailed <- err:
		default:
		}
	})
	if err != nil {
		log.Error("session refused: no transcript", "err", err)
		return nil, "this agent records every session and cannot record this one: " + err.Error(), nil
	}
	defer rec.close()
	sh, err := startProcess(p.id, p.argv, p.argv0, p.pty)
	if err != nil {
		log.Error("start session process", "err", err)
		return nil, "could not start the session: " + err.Error(), nil
	}
	sh.rec = rec
	sh.stdoutPfx, sh.stderrPfx = p.stdoutPfx, p.stderrPfx
	if doc.SessionType == document.SessionNonInteractiveCommands && !p.separate {
		sh.mergeStderr = true
	}
	if p.profile != "" {
		io.WriteString(sh.stdin, p.profile+"\n")
	}
	log.Info("session running", "type", doc.SessionType, "user", p.id.name, "pty", p.pty, "pid", sh.cmd.Process.Pid)
	icctx, icancel := context.WithCancel(sctx)
	defer icancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(2)
	outputDone := make(chan struct{})
	go func() { // shell output → client
		defer wg.Done()
		defer close(outputDone)
		sh.pumpOutput(sctx, stream)
	}()
	plan := p
	go func() { // client input → shell
		defer wg.Done()
		for {
			pt, p, err := stream.Recv(icctx)
			if err != nil {
				return
			}
			switch pt {
			case datachannel.PayloadOutput:
				if plan.signals && len(p) == 1 && (p[0] == 0x03 || p[0] == 0x1c) {
					sig := syscall.SIGINT
					if p[0] == 0x1c {
						sig = syscall.SIGQUIT
					}
					syscall.Kill(-sh.cmd.Process.Pid, sig)
					continue
				}
				if plan.recordInput {
					rec.write(asciicast.Input, p)
				}
				if _, err := sh.stdin.Write(p); err != nil {
					log.Debug("write to shell", "err", err)
				}
			case datachannel.PayloadSize:
				var sz datachannel.SizeData
				if json.Unmarshal(p, &sz) == nil && sz.Cols > 0 && sz.Rows > 0 && sz.Cols < 10000 && sz.Rows < 10000 {
					sh.setSize(uint16(sz.Cols), uint16(sz.Rows))
					rec.resize(int(sz.Cols), int(sz.Rows))
				}
			case datachannel.PayloadFlag:
				if f, err := datachannel.DecodeFlag(p); err == nil && f == datachannel.FlagTetherInputEOF && sh.pty == nil {
					sh.stdin.Close()
				}
			}
		}
	}()

	waitDone := make(chan error, 1)
	go func() { waitDone <- sh.cmd.Wait() }()
	select {
	case werr := <-waitDone:
		code := exitCode(werr)
		exit = &code
	case <-sctx.Done():
		// Terminated by the server, or the agent is stopping.
		sh.terminate(waitDone)
		if ctx.Err() != nil {
			reason = "agent shutting down"
		}
	case rerr := <-recFailed:
		sh.terminate(waitDone)
		reason = "session ended: its transcript could not be written (" + rerr.Error() + "); the agent does not run sessions it cannot record"
	case err := <-runDone:
		sh.terminate(waitDone)
		sh.closeIO()
		icancel()
		log.Warn("data channel lost", "err", err)
		return nil, "", err
	}
	// Forward what the shell wrote before it exited.
	sh.lastOutput.Store(time.Now().UnixNano())
	sh.drain(outputDone, time.Second)
	sh.closeIO()
	icancel()
	if exit != nil {
		if p.separate {
			stream.Send(sctx, datachannel.PayloadExitCode, []byte(fmt.Sprintf("EXIT_CODE: %d", *exit)))
		}
		waitDelivered(sctx, stream)
	}
	return exit, reason, nil
}

func waitAttached(ctx context.Context, s *datachannel.Stream) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	deadline := time.After(10 * time.Second)
	for {
		err := s.SendControl(ctx, datachannel.Message{MessageType: datachannel.TypeStartPublication, Payload: []byte{}})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return errors.New("data channel never attached")
		case <-t.C:
		}
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 255
}

// shell is a running shell process with its I/O.
type shell struct {
	cmd       *exec.Cmd
	pty       *os.File       // nil without a PTY
	stdin     io.WriteCloser // the PTY master, or the stdin pipe
	stdout    io.Reader
	stderr    io.Reader  // nil with a PTY
	ptyMu     sync.Mutex // orders setSize against closeIO
	ptyClosed bool
	// closers are the parent's pipe ends (no-PTY mode).
	closers []io.Closer
	// mergeStderr sends stderr as Output; the prefixes start each line of
	// stdout and stderr (NonInteractiveCommands with separateOutputStream).
	mergeStderr          bool
	stdoutPfx, stderrPfx string
	// busy counts output pumps inside a read-to-send cycle with data;
	// lastOutput is the UnixNano time output last moved.
	busy       atomic.Int32
	lastOutput atomic.Int64
	// rec records the session (nil: not recorded).
	rec *recorder
}

// loginShell returns the current user's shell from /etc/passwd, else $SHELL,
// else /bin/sh.
func loginShell(u *user.User) string {
	if f, err := os.Open("/etc/passwd"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Split(sc.Text(), ":")
			if len(fields) >= 7 && fields[2] == u.Uid && fields[6] != "" {
				if _, err := os.Stat(fields[6]); err == nil {
					return fields[6]
				}
			}
		}
	}
	if s := os.Getenv("SHELL"); s != "" {
		return s
	}
	return "/bin/sh"
}

// startProcess starts argv as id: in a PTY (whose slave is handed to the
// user) or on plain pipes. argv0, if set, replaces argv[0] as the process
// sees it (a leading "-" makes a login shell).
func startProcess(id identity, argv []string, argv0 string, withPty bool) (*shell, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	if argv0 != "" {
		cmd.Args[0] = argv0
	}
	// A clean environment: nothing of the agent's (credentials, tokens) leaks.
	if withPty {
		id.apply(cmd, "TERM=xterm-256color")
	} else {
		id.apply(cmd)
	}
	sh := &shell{cmd: cmd}
	if withPty {
		master, slave, err := pty.Open()
		if err != nil {
			return nil, fmt.Errorf("open a pty: %w", err)
		}
		defer slave.Close()
		if id.switchUser {
			// The user owns its terminal, as login(1) arranges.
			os.Chown(slave.Name(), int(id.uid), int(id.gid))
		}
		pty.Setsize(master, &pty.Winsize{Cols: 80, Rows: 24})
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr.Setsid = true
		cmd.SysProcAttr.Setctty = true
		if err := cmd.Start(); err != nil {
			master.Close()
			return nil, fmt.Errorf("start %s in a pty: %w", argv[0], err)
		}
		sh.pty, sh.stdin, sh.stdout = master, master, master
		return sh, nil
	}
	cmd.SysProcAttr.Setsid = true
	// Plain os.Pipe ends, not cmd.StdoutPipe: Wait closes those as soon as
	// the shell exits, dropping output still in the pipe.
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	err = cmd.Start()
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	sh.stdin, sh.stdout, sh.stderr = inW, outR, errR
	sh.closers = []io.Closer{inW, outR, errR}
	return sh, nil
}

// pumpOutput copies the shell's output to the stream until EOF.
func (sh *shell) pumpOutput(ctx context.Context, s *datachannel.Stream) {
	var wg sync.WaitGroup
	pump := func(r io.Reader, pt datachannel.PayloadType) {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				// Recorded before it is sent: whatever the user saw is in
				// the transcript, even if the agent dies right after.
				sh.rec.write(asciicast.Output, buf[:n])
				sh.busy.Add(1)
				serr := s.Send(ctx, pt, buf[:n])
				sh.lastOutput.Store(time.Now().UnixNano())
				sh.busy.Add(-1)
				if serr != nil {
					return
				}
			}
			if err != nil {
				return // EOF, or EIO from a PTY whose shell has exited
			}
		}
	}
	wg.Add(1)
	go pump(prefixed(sh.stdout, sh.stdoutPfx), datachannel.PayloadOutput)
	if sh.stderr != nil {
		pt := datachannel.PayloadStdErr
		if sh.mergeStderr {
			pt = datachannel.PayloadOutput
		}
		wg.Add(1)
		go pump(prefixed(sh.stderr, sh.stderrPfx), pt)
	}
	wg.Wait()
}

// terminate ends the shell's whole process group: SIGHUP, then SIGKILL if
// it has not exited within two seconds. waitDone delivers cmd.Wait's result.
func (sh *shell) terminate(waitDone <-chan error) {
	pid := sh.cmd.Process.Pid
	syscall.Kill(-pid, syscall.SIGHUP)
	select {
	case <-waitDone:
	case <-time.After(2 * time.Second):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-waitDone
	}
}

// setSize resizes the PTY unless it is already closed (a Size message can
// arrive as a short command ends).
func (sh *shell) setSize(cols, rows uint16) {
	sh.ptyMu.Lock()
	defer sh.ptyMu.Unlock()
	if sh.pty != nil && !sh.ptyClosed {
		pty.Setsize(sh.pty, &pty.Winsize{Cols: cols, Rows: rows})
	}
}

func (sh *shell) closeIO() {
	sh.ptyMu.Lock()
	if sh.pty != nil && !sh.ptyClosed {
		sh.ptyClosed = true
		sh.pty.Close()
	}
	sh.ptyMu.Unlock()
	for _, c := range sh.closers {
		c.Close()
	}
}

// drain waits for the output pumps to reach EOF after the shell exited. A
// background job may keep the output open forever, so it also stops once
// output has been idle for idle.
func (sh *shell) drain(outputDone <-chan struct{}, idle time.Duration) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-outputDone:
			return
		case <-t.C:
			if sh.busy.Load() == 0 && time.Since(time.Unix(0, sh.lastOutput.Load())) > idle {
				return
			}
		}
	}
}

// prefixed returns r with pfx at the start of every line (r itself if pfx
// is empty).
func prefixed(r io.Reader, pfx string) io.Reader {
	if pfx == "" || r == nil {
		return r
	}
	return &prefixReader{r: r, pfx: []byte(pfx), atStart: true}
}

type prefixReader struct {
	r       io.Reader
	pfx     []byte
	atStart bool
	out     []byte
}

func (p *prefixReader) Read(b []byte) (int, error) {
	for len(p.out) == 0 {
		buf := make([]byte, len(b))
		n, err := p.r.Read(buf)
		for _, c := range buf[:n] {
			if p.atStart {
				p.out = append(p.out, p.pfx...)
			}
			p.out = append(p.out, c)
			p.atStart = c == '\n'
		}
		if n == 0 && err != nil {
			return 0, err
		}
	}
	n := copy(b, p.out)
	p.out = p.out[n:]
	return n, nil
}

// startTranscript opens the session's transcript (nil when recording is
// off, or failed and the preferences say fail open). fail is told a write
// error that must end the session.
func (a *Agent) startTranscript(task api.SessionTask, p plan, fail func(error)) (*recorder, error) {
	if a.cfg.NoRecording {
		return nil, nil
	}
	h := asciicast.Header{Width: 80, Height: 24,
		Env: map[string]string{"SHELL": p.argv[0], "TERM": "xterm-256color"},
		Tether: &asciicast.Meta{SessionID: task.SessionID, Target: a.id.InstanceID, RunAsUser: p.id.name,
			Document: task.DocumentName}}
	if !p.pty {
		delete(h.Env, "TERM")
	}
	rec, err := a.spool.openCast(task.SessionID, h, p.recordingFailOpen, fail)
	if err != nil && p.recordingFailOpen {
		a.cfg.Logger.Error("session transcript unavailable; running unrecorded (recordingFailOpen)", "session_id", task.SessionID, "err", err)
		return nil, nil
	}
	return rec, err
}

// startEventsTranscript opens a port session's transcript of forwarded
// connections, which reportTunnel writes to.
func (a *Agent) startEventsTranscript(task api.SessionTask, fail func(error)) (*recorder, error) {
	if a.cfg.NoRecording {
		return nil, nil
	}
	var failOpen bool
	if pd, err := document.Parse(task.Preferences, ""); err == nil {
		failOpen = pd.Inputs.RecordingFailOpen
	}
	rec, err := a.spool.openEvents(task.SessionID, failOpen, fail)
	if err != nil {
		if failOpen {
			a.cfg.Logger.Error("session transcript unavailable; running unrecorded (recordingFailOpen)", "session_id", task.SessionID, "err", err)
			return nil, nil
		}
		return nil, err
	}
	a.mu.Lock()
	a.portRecs[task.SessionID] = rec
	a.mu.Unlock()
	return rec, nil
}

func (a *Agent) stopEventsTranscript(sid string, rec *recorder) {
	if rec == nil {
		return
	}
	a.mu.Lock()
	delete(a.portRecs, sid)
	a.mu.Unlock()
	rec.close()
}
