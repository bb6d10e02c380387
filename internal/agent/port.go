package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetherhq/tether/internal/datachannel"
	"github.com/tetherhq/tether/internal/document"
)

// DefaultDeniedNetworks are destinations a port session to a remote host
// may not reach unless the agent's configuration says otherwise: link-local
// (including cloud metadata services), loopback (another namespace's
// services are not the remote host's), and the unspecified addresses.
var DefaultDeniedNetworks = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("fd00:ec2::/32"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("::/128"),
}

// TunnelEvent describes one forwarded connection, for the audit log.
type TunnelEvent struct {
	SessionID   string
	Destination string
	BytesIn     int64 // from the destination to the client
	BytesOut    int64 // from the client to the destination
	Start, End  time.Time
	Error       string
}

// portSession runs a Port session after the handshake.
type portSession struct {
	a      *Agent
	log    *slog.Logger
	sid    string
	stream *datachannel.Stream
	props  document.PortProperties
	client string // client version from the handshake
}

// destination returns host:port to dial for the session's single forward.
func (p *portSession) destination(ctx context.Context) (string, error) {
	return p.a.resolveDestination(ctx, p.props.Host, p.props.PortNumber)
}

// resolveDestination returns the address to dial for host:port: the
// instance itself when host is empty, else host resolved, refused if any of
// its addresses is on the deny list, and dialled by the checked address (so
// a second DNS answer cannot swap it).
func (a *Agent) resolveDestination(ctx context.Context, host, portStr string) (string, error) {
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", fmt.Errorf("portNumber %q is not a port", portStr)
	}
	if host == "" {
		return net.JoinHostPort("localhost", strconv.Itoa(port)), nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return "", fmt.Errorf("resolve %s: %v", host, err)
	}
	for _, ip := range addrs {
		if a.denied(ip) {
			return "", fmt.Errorf("destination %s (%s) is on the agent's deny list", host, ip)
		}
	}
	return net.JoinHostPort(addrs[0].Unmap().String(), strconv.Itoa(port)), nil
}

// streamDestination reads a multi-forward stream's 2-byte index and returns
// the destination it names (Tether-StartPortForwardingSessionMulti).
func (p *portSession) streamDestination(ctx context.Context, st io.Reader) (string, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(st, hdr[:]); err != nil {
		return "", fmt.Errorf("read the stream's destination index: %w", err)
	}
	lines := strings.Split(p.props.Destinations, "\n")
	i := int(hdr[0])<<8 | int(hdr[1])
	if i >= len(lines) {
		return "", fmt.Errorf("destination index %d out of range (%d destinations)", i, len(lines))
	}
	host, port := "", lines[i]
	if j := strings.LastIndex(lines[i], ":"); j >= 0 {
		host, port = lines[i][:j], lines[i][j+1:]
	}
	return p.a.resolveDestination(ctx, host, port)
}

// denied reports whether ip is in the agent's deny list.
func (a *Agent) denied(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, n := range a.cfg.DeniedNetworks {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

func (p *portSession) run(ctx context.Context) error {
	if p.props.Type == "LocalPortForwarding" && !versionAbove("1.1.70", p.client) {
		return p.runMux(ctx)
	}
	return p.runBasic(ctx)
}

// runMux serves smux v1 streams (one per client connection), as the
// official plugin expects for LocalPortForwarding, with datachannel.Mux.
func (p *portSession) runMux(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	mux := datachannel.NewMux(p.stream, false, datachannel.MuxConfig{
		// One smux frame per data-channel message, as large as v1 allows
		// (the plugin reads frames of any length).
		MaxFrameSize: datachannel.SmuxFrameSize,
		// What the client sent and the destinations have not taken yet;
		// beyond it the mux stops reading and the data channel pushes
		// back. The plugin's default, and it keeps the agent small under
		// a slow destination.
		MaxReceiveBuffer: 4 << 20,
		// The plugin turns its keep-alive off above 3.1.1511.0; ours does
		// the same for clients above 1.2.331.0, so idle sessions can time
		// out.
		KeepAlive: !versionAbove(p.client, "1.2.331.0"),
		OnOther: func(pt datachannel.PayloadType, b []byte) {
			if pt == datachannel.PayloadFlag {
				if f, err := datachannel.DecodeFlag(b); err == nil && f == datachannel.FlagTerminateSession {
					p.log.Info("client asked to end the session")
					cancel()
				}
			}
		},
	})
	defer mux.Close()
	go func() {
		<-ctx.Done()
		mux.Close()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		st, err := mux.AcceptStream()
		if err != nil {
			return nil // the session ended, or the data channel did
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.forward(ctx, st)
		}()
	}
}

// forward connects one client stream to the destination.
func (p *portSession) forward(ctx context.Context, st io.ReadWriteCloser) {
	defer st.Close()
	ev := TunnelEvent{SessionID: p.sid, Start: time.Now()}
	defer func() {
		ev.End = time.Now()
		p.a.reportTunnel(ev)
	}()
	var dest string
	var err error
	if p.props.Destinations != "" {
		dest, err = p.streamDestination(ctx, st)
	} else {
		dest, err = p.destination(ctx)
	}
	ev.Destination = dest
	if dest == "" {
		ev.Destination = net.JoinHostPort(p.props.Host, p.props.PortNumber)
	}
	var target net.Conn
	if err == nil {
		d := net.Dialer{Timeout: 10 * time.Second}
		target, err = d.DialContext(ctx, "tcp", dest)
	}
	if err != nil {
		ev.Error = err.Error()
		p.log.Warn("connect to destination failed", "destination", ev.Destination, "err", err)
		p.stream.Send(ctx, datachannel.PayloadFlag, datachannel.EncodeFlag(datachannel.FlagConnectToPortError))
		return
	}
	defer target.Close()
	ev.BytesIn, ev.BytesOut = splice(st, target)
}

// splice copies both ways until either side ends, half-closing where it
// can, and returns the bytes copied from b to a and from a to b.
func splice(a io.ReadWriteCloser, b net.Conn) (toA, toB int64) {
	var wg sync.WaitGroup
	var in, out atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		n, _ := io.Copy(b, a) // a mux stream writes what it holds, frame by frame
		out.Store(n)
		if tc, ok := b.(*net.TCPConn); ok {
			tc.CloseWrite()
		} else {
			b.Close()
		}
	}()
	n, _ := datachannel.CopyIn(a, b)
	in.Store(n)
	a.Close()
	wg.Wait()
	return in.Load(), out.Load()
}

// basicConn is the one destination connection of a basic-mode session.
type basicConn struct {
	c      net.Conn
	ev     TunnelEvent
	in     atomic.Int64
	out    atomic.Int64
	closed atomic.Bool // closed by us (DisconnectToPort), not by the destination
}

// runBasic carries one TCP connection over the Output stream (SSH through
// the tunnel, and clients without mux). For SSH-style sessions the session
// ends when the destination closes; DisconnectToPort closes the current
// connection and the next Output dials again; TerminateSession ends it.
func (p *portSession) runBasic(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dest, err := p.destination(ctx)
	if err != nil {
		p.stream.Send(ctx, datachannel.PayloadFlag, datachannel.EncodeFlag(datachannel.FlagConnectToPortError))
		return err
	}
	endsWithDestination := p.props.Type != "LocalPortForwarding"
	var mu sync.Mutex
	var cur *basicConn
	finish := func(bc *basicConn) {
		bc.c.Close()
		bc.ev.BytesIn, bc.ev.BytesOut, bc.ev.End = bc.in.Load(), bc.out.Load(), time.Now()
		p.a.reportTunnel(bc.ev)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	dial := func() (*basicConn, error) {
		d := net.Dialer{Timeout: 10 * time.Second}
		c, err := d.DialContext(ctx, "tcp", dest)
		if err != nil {
			p.log.Warn("connect to destination failed", "destination", dest, "err", err)
			p.stream.Send(ctx, datachannel.PayloadFlag, datachannel.EncodeFlag(datachannel.FlagConnectToPortError))
			return nil, err
		}
		bc := &basicConn{c: c, ev: TunnelEvent{SessionID: p.sid, Destination: dest, Start: time.Now()}}
		wg.Add(1)
		go func() { // destination → client
			defer wg.Done()
			buf := make([]byte, datachannel.SmuxPayload) // one message per read
			for {
				n, err := c.Read(buf)
				if n > 0 {
					bc.in.Add(int64(n))
					if p.stream.Send(ctx, datachannel.PayloadOutput, buf[:n]) != nil {
						return
					}
				}
				if err != nil {
					if endsWithDestination && !bc.closed.Load() {
						cancel()
					}
					return
				}
			}
		}()
		return bc, nil
	}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		if cur != nil {
			cur.closed.Store(true)
			finish(cur)
		}
	}()
	first, err := dial()
	if err != nil {
		return err
	}
	cur = first
	for {
		pt, b, err := p.stream.Recv(ctx)
		if err != nil {
			return nil
		}
		switch pt {
		case datachannel.PayloadOutput:
			mu.Lock()
			if cur == nil {
				if cur, err = dial(); err != nil {
					mu.Unlock()
					continue
				}
			}
			bc := cur
			mu.Unlock()
			if _, err := bc.c.Write(b); err == nil {
				bc.out.Add(int64(len(b)))
			}
		case datachannel.PayloadFlag:
			f, _ := datachannel.DecodeFlag(b)
			switch f {
			case datachannel.FlagDisconnectToPort:
				mu.Lock()
				if cur != nil {
					cur.closed.Store(true)
					finish(cur)
					cur = nil
				}
				mu.Unlock()
			case datachannel.FlagTerminateSession:
				return nil
			}
		}
	}
}
