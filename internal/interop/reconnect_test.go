package interop

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/testenv"
)

// TestPluginReconnect cuts the plugin's data channel in the middle of a
// shell session (protocol.md §3.9). The plugin must get a new token from
// ResumeSession, reattach to the same StreamUrl, and lose nothing: output the
// shell printed while it was away arrives after it is back.
func TestPluginReconnect(t *testing.T) {
	clis := findCLIs(t)
	plugin := pluginDir(t)

	// tetherd's public URL is a proxy the test controls, so StreamUrl points
	// at it; the plugin's connections are the signed ones (§3.1).
	bins := testenv.Build(t)
	port := testenv.FreePort(t)
	px := startProxy(t, fmt.Sprintf("127.0.0.1:%d", port))
	s := &testenv.Server{Bins: bins, URL: "http://" + px.addr(), DataDir: t.TempDir(), ConfigDir: t.TempDir(),
		ExtraEnv: []string{"TETHER_PUBLIC_URL=http://" + px.addr()}}
	s.SetT(t)
	s.Proc = testenv.Start(t, s.Env(), bins.Tetherd, "dev", "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--data-dir", s.DataDir, "--log-level", "debug")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("tetherd log:\n%s", s.Proc.Stderr.String())
		}
	})
	testenv.Eventually(t, 60*time.Second, func() error {
		select {
		case <-s.Proc.Done():
			return testenv.Permanent(fmt.Errorf("tetherd exited: %s", s.Proc.Stderr.String()))
		default:
		}
		m := regexp.MustCompile(`instance\s+(mi-[0-9a-f]{17})`).FindStringSubmatch(s.Proc.Stdout.String())
		if m == nil {
			return errors.New("no instance line yet")
		}
		s.InstanceID = m[1]
		return nil
	})
	s.WaitPing(s.InstanceID, "Online")

	r := newCLIRun(t, clis[0], s, plugin)
	tm := startTerm(t, r.command("ssm", "start-session", "--target", s.InstanceID), 24, 80)
	sid := tm.ExpectSub(0, `Starting session with SessionId: (\S+)\n`)[1]
	pos := tm.Expect(tm.Pos, `[#$] `)
	tm.Send("echo A$((1+1))\r")
	pos = tm.Expect(pos, `\nA2\n`)

	// Output that the shell prints while the plugin is away: its new
	// connections are refused for 600 ms. (It tries five times, after delays
	// doubling from 100-200 ms, so 1.5 to 3 s in all, then gives up.)
	tm.Send("sleep 0.3; echo C$((3+3))\r")
	pos = tm.Expect(pos, `sleep 0\.3`)
	px.refuse(600 * time.Millisecond)
	if n := px.cut(); n != 1 {
		t.Fatalf("cut %d plugin connections, want 1", n)
	}
	pos = tm.Expect(pos, `\nC6\n`)
	if n := px.opened(); n < 2 {
		t.Errorf("%d plugin connections: the plugin did not reconnect", n)
	}

	tm.Send("echo B$((2+2))\r")
	pos = tm.Expect(pos, `\nB4\n`)
	tm.Send("exit\r")
	tm.Expect(pos, `Exiting session with sessionId: `+regexp.QuoteMeta(sid)+`\.`)
	if code := tm.ExitCode(30 * time.Second); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	waitHistory(r, sid)
}

// proxy forwards TCP connections to tetherd and can cut the plugin's
// data-channel websockets: those whose upgrade request is SigV4-signed
// (the 2026 plugin signs it; Tether's agent and CLI do not).
type proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	conns     map[net.Conn]bool // every open connection, both sides
	plugin    map[net.Conn]net.Conn
	nPlugin   int
	refuseEnd time.Time
}

func startProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}, plugin: map[net.Conn]net.Conn{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		p.closed = true
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(c)
		}()
	}
}

// track records c as open, or closes it if the proxy is closing.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		delete(p.plugin, c)
		c.Close()
	}
}

func (p *proxy) serve(c net.Conn) {
	if !p.track(c) {
		return
	}
	// Read the request head to see who is calling.
	var head []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(head, []byte("\r\n\r\n")) && len(head) < 64<<10 {
		n, err := c.Read(buf)
		head = append(head, buf[:n]...)
		if err != nil {
			p.untrack(c)
			return
		}
	}
	isPlugin := bytes.HasPrefix(head, []byte("GET /v1/data-channel/")) &&
		bytes.Contains(bytes.ToLower(head), []byte("\r\nauthorization: aws4-hmac-sha256"))
	p.mu.Lock()
	if isPlugin && time.Now().Before(p.refuseEnd) {
		p.mu.Unlock()
		p.untrack(c)
		return
	}
	p.mu.Unlock()
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		p.untrack(c)
		return
	}
	if !p.track(u) {
		p.untrack(c)
		return
	}
	if isPlugin {
		p.mu.Lock()
		p.plugin[c] = u
		p.nPlugin++
		p.mu.Unlock()
	}
	if _, err := u.Write(head); err != nil {
		p.untrack(c, u)
		return
	}
	done := make(chan struct{})
	go func() {
		io.Copy(c, u)
		close(done)
	}()
	io.Copy(u, c)
	p.untrack(c, u)
	<-done
}

// cut closes the open plugin connections and returns how many there were.
func (p *proxy) cut() int {
	p.mu.Lock()
	var cs []net.Conn
	for c, u := range p.plugin {
		cs = append(cs, c, u)
	}
	p.mu.Unlock()
	p.untrack(cs...)
	return len(cs) / 2
}

// refuse drops new plugin connections for d.
func (p *proxy) refuse(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuseEnd = time.Now().Add(d)
}

// opened is how many plugin connections were forwarded.
func (p *proxy) opened() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nPlugin
}
