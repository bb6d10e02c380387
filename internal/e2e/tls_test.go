package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/devcert"
	"github.com/tetherhq/tether/internal/testenv"
)

// TestTLS runs everything over https/wss: the server with a certificate,
// agents and the CLI trusting it through SSL_CERT_FILE.
func TestTLS(t *testing.T) {
	cert, key, err := devcert.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := testenv.StartDevWith(t, testenv.Options{TLS: true,
		Env: []string{"TETHER_TLS_CERT=" + cert, "TETHER_TLS_KEY=" + key, "SSL_CERT_FILE=" + cert}})
	a := s.StartAgent("tls-host")
	for _, target := range []string{s.InstanceID, a.InstanceID} {
		r := s.CLI("echo secure\n", "start-session", "--target", target)
		if r.Code != 0 || r.Stdout != "secure\n" {
			t.Fatalf("session to %s over TLS: code %d stdout %q stderr %q", target, r.Code, r.Stdout, r.Stderr)
		}
	}
	// Bulk both ways through a port forward: whole messages are corked
	// beneath TLS on every hop, and read a buffer of records at a time.
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	port, fwd := startForward(t, s, a.InstanceID, "AWS-StartPortForwardingSession",
		fmt.Sprintf("portNumber=%d,localPortNumber=0", echo.Addr().(*net.TCPAddr).Port))
	defer fwd.Kill()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := make([]byte, 32<<20)
	rand.Read(data)
	go c.Write(data)
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	back := make([]byte, len(data))
	if _, err := io.ReadFull(c, back); err != nil || !bytes.Equal(back, data) {
		t.Fatalf("32 MiB echoed through a port forward over TLS: %v, equal %v", err, bytes.Equal(back, data))
	}

	var id struct{ Arn string }
	s.JSON(&id, "whoami")
	if !strings.HasSuffix(id.Arn, ":user/admin") {
		t.Fatalf("whoami: %+v", id)
	}
	// A client that does not trust the certificate is refused.
	bad := testenv.Start(t, []string{"SSL_CERT_FILE=/dev/null", "TETHER_CONFIG_DIR=" + s.ConfigDir}, s.Bins.CLI, "whoami")
	if code := bad.Wait(30 * time.Second); code == 0 || !strings.Contains(bad.Stderr.String(), "certificate") {
		t.Fatalf("untrusted client: exit %d, stderr %q", code, bad.Stderr.String())
	}
}
