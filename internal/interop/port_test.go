package interop

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/testenv"
)

// portClient is one client that opens Port sessions: an AWS CLI running
// AWS's session-manager-plugin, or the tether CLI.
type portClient struct {
	name  string
	start func(t *testing.T, target, document, params string) *bgClient
	// refused is what the client prints when the agent could not connect
	// to the destination (Flag ConnectToPortError).
	refused string
	// The exit status after Ctrl-C, and what the client prints then (a
	// regular expression; %s is the session id).
	interruptStatus int
	interruptLine   string
	// flagOnInterrupt: Ctrl-C ends the session with Flag TerminateSession
	// on the data channel (the plugin), not with the TerminateSession API.
	flagOnInterrupt bool
	// The exit status when the session is terminated from elsewhere.
	terminatedStatus int
}

// TestPortForwarding forwards ports with AWS-StartPortForwardingSession
// and AWS-StartPortForwardingSessionToRemoteHost through every installed
// AWS CLI with AWS's plugin (mux mode, protocol.md §4.2) and through the
// tether CLI, so both clients stay in step: the same "Port N opened" line,
// 20 concurrent HTTP requests through one session, the refusal message for
// a destination on the agent's deny list, and the end of the session on
// Ctrl-C and on `aws ssm terminate-session` from another terminal.
func TestPortForwarding(t *testing.T) {
	clis := findCLIs(t)
	plugin := pluginDir(t)
	s := testenv.StartDev(t)
	backend := testenv.HTTPBackend(t, "127.0.0.1:0")

	// An agent whose deny list lets remote-host sessions reach loopback:
	// the permitted remote-host case that runs on every machine.
	open := startAgent(t, s, "open", "--deny-networks", "none")

	// A remote host the dev agent's default deny list permits: this
	// host's own non-loopback address, with a backend listening on it.
	remote := hostAddress()
	var remoteBackend int
	if remote != "" {
		remoteBackend = testenv.HTTPBackend(t, net.JoinHostPort(remote, "0"))
		t.Logf("remote host for the dev agent: %s", remote)
	}

	var clients []portClient
	for _, cli := range clis {
		clients = append(clients, portClient{
			name: cli.name(),
			start: func(t *testing.T, target, doc, params string) *bgClient {
				r := newCLIRun(t, cli, s, plugin)
				return startClient(t, r.command("ssm", "start-session", "--target", target,
					"--document-name", doc, "--parameters", params))
			},
			refused:         "\nConnection to destination port failed, check SSM Agent logs.\n",
			interruptStatus: 0,
			interruptLine:   `Terminate signal received, exiting\.\n+Exiting session with sessionId: %s\.\n`,
			flagOnInterrupt: true,
			// The plugin exits 0 however the session ends.
			terminatedStatus: 0,
		})
	}
	clients = append(clients, portClient{
		name: "tether",
		start: func(t *testing.T, target, doc, params string) *bgClient {
			return startClient(t, tetherCommand(s, "start-session", "--target", target,
				"--document-name", doc, "--parameters", params))
		},
		refused:          "Connection to destination port failed, check the agent's log.\n",
		interruptStatus:  130, // 128 + SIGINT, as a shell reports it
		terminatedStatus: 255, // no exit status from the remote side, like ssh
	})

	for _, c := range clients {
		t.Run(c.name+"/local port", func(t *testing.T) {
			r := newCLIRun(t, clis[0], s, plugin)
			fw := c.start(t, s.InstanceID, "AWS-StartPortForwardingSession", fmt.Sprintf("portNumber=%d,localPortNumber=0", backend))
			port, sid := fw.opened()
			fw.expect(`\nWaiting for connections\.\.\.\n`)
			testenv.ConcurrentGets(t, "localhost:"+port, 20)
			checkActive(r, sid, s.InstanceID, "AWS-StartPortForwardingSession")
			stop(r, fw, c, sid)
		})

		t.Run(c.name+"/remote host on the deny list", func(t *testing.T) {
			r := newCLIRun(t, clis[0], s, plugin)
			fw := c.start(t, s.InstanceID, "AWS-StartPortForwardingSessionToRemoteHost",
				fmt.Sprintf("host=127.0.0.1,portNumber=%d,localPortNumber=0", backend))
			port, sid := fw.opened()
			conn, err := net.Dial("tcp", net.JoinHostPort("localhost", port))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "GET /?i=denied HTTP/1.0\r\n\r\n")
			conn.SetReadDeadline(time.Now().Add(15 * time.Second))
			if n, err := conn.Read(make([]byte, 64)); err == nil {
				t.Errorf("read %d bytes through a denied destination", n)
			}
			conn.Close()
			fw.expect(regexp.QuoteMeta(c.refused))
			// The refusal ends that connection, not the session.
			fw.running()
			checkActive(r, sid, s.InstanceID, "AWS-StartPortForwardingSessionToRemoteHost")
			terminateFromAPI(r, fw, c, sid)
		})

		t.Run(c.name+"/remote host the agent permits", func(t *testing.T) {
			r := newCLIRun(t, clis[0], s, plugin)
			fw := c.start(t, open, "AWS-StartPortForwardingSessionToRemoteHost",
				fmt.Sprintf("host=127.0.0.1,portNumber=%d,localPortNumber=0", backend))
			port, sid := fw.opened()
			testenv.ConcurrentGets(t, "localhost:"+port, 20)
			terminateFromAPI(r, fw, c, sid)
		})

		t.Run(c.name+"/remote host by address", func(t *testing.T) {
			if remote == "" {
				t.Skip("this host has no non-loopback IPv4 address for the dev agent (which denies loopback) to reach; " +
					"the case above covers a permitted remote host")
			}
			r := newCLIRun(t, clis[0], s, plugin)
			fw := c.start(t, s.InstanceID, "AWS-StartPortForwardingSessionToRemoteHost",
				fmt.Sprintf("host=%s,portNumber=%d,localPortNumber=0", remote, remoteBackend))
			port, sid := fw.opened()
			testenv.ConcurrentGets(t, "localhost:"+port, 20)
			terminateFromAPI(r, fw, c, sid)
		})
	}
}

// stop is Ctrl-C: the client ends the session and says so, and the
// session moves to History.
func stop(r *cliRun, fw *bgClient, c portClient, sid string) {
	r.t.Helper()
	if code := fw.interrupt(); code != c.interruptStatus {
		r.t.Errorf("exit status %d after Ctrl-C, want %d", code, c.interruptStatus)
	}
	if c.interruptLine != "" {
		fw.expect(fmt.Sprintf(c.interruptLine, regexp.QuoteMeta(sid)))
	}
	if !c.flagOnInterrupt {
		waitHistory(r, sid)
		return
	}
	// The plugin writes Flag TerminateSession and exits at once. Now and
	// then (about 1 in 20 here) tetherd's relay loses that last frame: a
	// write to the exiting plugin fails first and the relay closes the
	// socket with the flag unread. The session then stays Disconnected
	// until the idle timeout. That known problem, and only that, skips.
	deadline := time.Now().Add(15 * time.Second)
	for {
		v := r.json(describeSessionsShape, "ssm", "describe-sessions", "--state", "History",
			"--filters", "key=SessionId,value="+sid)
		if st := findItem(v, "Sessions", "SessionId", sid); st != nil && st["Status"] == "Terminated" && st["EndDate"] != nil {
			return
		}
		if time.Now().After(deadline) {
			break
		}
	}
	v := r.json(describeSessionsShape, "ssm", "describe-sessions", "--state", "Active",
		"--filters", "key=SessionId,value="+sid)
	r.t.Fatalf("session %s not Terminated in History 15 s after Ctrl-C: %v", sid, v)
}

// terminateFromAPI ends the session from another terminal with `aws ssm
// terminate-session`: the client prints why and exits.
func terminateFromAPI(r *cliRun, fw *bgClient, c portClient, sid string) {
	r.t.Helper()
	if v := r.json(sessionIDShape, "ssm", "terminate-session", "--session-id", sid); v["SessionId"] != sid {
		r.t.Errorf("terminate-session: %v", v)
	}
	fw.expect(`\nSessionId: ` + regexp.QuoteMeta(sid) + ` : terminated by arn:aws:iam::[0-9]{12}:user/admin\r?\n`)
	if code := fw.exitCode(30 * time.Second); code != c.terminatedStatus {
		r.t.Errorf("exit status %d after terminate-session, want %d", code, c.terminatedStatus)
	}
	waitHistory(r, sid)
}

// checkActive checks that DescribeSessions lists sid as a Connected
// session of document on target.
func checkActive(r *cliRun, sid, target, document string) {
	r.t.Helper()
	v := r.json(describeSessionsShape, "ssm", "describe-sessions", "--state", "Active",
		"--filters", "key=SessionId,value="+sid)
	st := findItem(v, "Sessions", "SessionId", sid)
	if st == nil || st["Status"] != "Connected" || st["Target"] != target || st["DocumentName"] != document {
		r.t.Errorf("active session %s: %v", sid, v)
	}
}

// hostAddress returns one of this host's IPv4 addresses that is neither
// loopback nor link-local (what `hostname -I` lists first), or "".
func hostAddress() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() && !n.IP.IsUnspecified() {
			return n.IP.String()
		}
	}
	return ""
}

// startAgent registers a tether-agent through an activation and runs it
// with extra `run` flags; it returns the instance id once it is online.
func startAgent(t *testing.T, s *testenv.Server, name string, runArgs ...string) string {
	t.Helper()
	var act api.CreateActivationOutput
	s.JSON(&act, "create-activation", "--default-instance-name", name, "--registration-limit", "1")
	state := filepath.Join(t.TempDir(), "agent")
	reg := exec.Command(s.Bins.Agent, "register", "--endpoint", s.URL, "--activation-id", act.ActivationID,
		"--activation-code", act.ActivationCode, "--state-dir", state)
	out, err := reg.CombinedOutput()
	if err != nil {
		t.Fatalf("tether-agent register: %v\n%s", err, out)
	}
	id := regexp.MustCompile(`mi-[0-9a-f]{17}`).FindString(string(out))
	if id == "" {
		t.Fatalf("no instance id in %q", out)
	}
	p := testenv.Start(t, s.ExtraEnv, s.Bins.Agent, append([]string{"run", "--state-dir", state, "--log-level", "debug"}, runArgs...)...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent %s log:\n%s", name, p.Stderr.String())
		}
	})
	s.WaitPing(id, "Online")
	return id
}
