package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
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
// parts, like the official plugin's, because agents compare it numerically.
const ClientVersion = "1.3.0.1"

// sessionIO is the terminal side of a session.
type sessionIO struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// tty is the terminal's file when stdin is a terminal, else nil.
	tty *os.File
}

// sessionResult is how a session ended.
type sessionResult struct {
	exitCode *int
	output   string
	quit     bool // the user typed ~.
}

// runSession attaches to a started session's data channel and runs it.
func runSession(ctx context.Context, c *Client, out api.StartSessionOutput, sio sessionIO) (sessionResult, error) {
	dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
	conn, _, err := websocket.Dial(dctx, out.StreamURL, nil)
	dcancel()
	if err != nil {
		return sessionResult{}, fmt.Errorf("open the data channel %s: %w", out.StreamURL, err)
	}
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
		Role: datachannel.RoleClient,
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
	go func() { runErr <- stream.Run(sctx, wstransport.Conn{C: conn}) }()

	if sio.tty != nil {
		state, err := term.MakeRaw(int(sio.tty.Fd()))
		if err == nil {
			defer term.Restore(int(sio.tty.Fd()), state)
		}
		sendSize(sctx, stream, sio.tty)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for {
				select {
				case <-sctx.Done():
					return
				case <-winch:
					sendSize(sctx, stream, sio.tty)
				}
			}
		}()
	}

	outputDone := make(chan struct{})
	go func() { // agent → terminal
		defer close(outputDone)
		for {
			pt, p, err := stream.Recv(context.Background())
			if err != nil {
				return
			}
			switch pt {
			case datachannel.PayloadOutput:
				sio.stdout.Write(p)
			case datachannel.PayloadStdErr:
				sio.stderr.Write(p)
			}
		}
	}()
	quit := make(chan struct{})
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
				if len(p) > 0 && stream.Send(sctx, datachannel.PayloadOutput, p) != nil {
					return
				}
			}
			if err != nil {
				if sio.tty == nil {
					stream.Send(sctx, datachannel.PayloadFlag, datachannel.EncodeFlag(datachannel.FlagTetherInputEOF))
				}
				return
			}
		}
	}()

	var retErr error
	select {
	case <-closed:
	case <-quit:
		res.quit = true
		tctx, tcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		c.Call(tctx, api.TargetSSM+"TerminateSession", api.SessionIDInput{SessionID: out.SessionID}, nil)
		tcancel()
	case <-ctx.Done():
		tctx, tcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		c.Call(tctx, api.TargetSSM+"TerminateSession", api.SessionIDInput{SessionID: out.SessionID}, nil)
		tcancel()
		retErr = ctx.Err()
	case err := <-runErr:
		if err == nil {
			err = errors.New("data channel closed")
		}
		retErr = fmt.Errorf("lost the data channel: %w", err)
	}
	// Everything before channel_closed is already queued: drain it.
	stream.Close()
	select {
	case <-outputDone:
	case <-time.After(5 * time.Second):
	}
	cancel()
	mu.Lock()
	defer mu.Unlock()
	return res, retErr
}

func sendSize(ctx context.Context, s *datachannel.Stream, tty *os.File) {
	w, h, err := term.GetSize(int(tty.Fd()))
	if err != nil || w <= 0 || h <= 0 {
		return
	}
	b, _ := json.Marshal(datachannel.SizeData{Cols: uint32(w), Rows: uint32(h)})
	s.Send(ctx, datachannel.PayloadSize, b)
}
