package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
)

const sshdPath = "/usr/sbin/sshd"

// command returns a command whose whole process group is killed when ctx
// ends. The caller puts it in its own group: Setpgid, or a PTY's Setsid.
func command(ctx context.Context, env []string, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	return cmd
}

// firstByte starts argv on a new PTY and returns the time from starting it to
// the first output after the line containing skip (any output if skip is
// empty). Then it types exit and waits for the process to end.
func firstByte(ctx context.Context, env []string, skip string, argv ...string) (time.Duration, error) {
	cmd := command(ctx, env, argv...)
	start := time.Now()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		return 0, err
	}
	defer f.Close()

	// Reads end with EIO once the process and so the PTY's other side are
	// gone, which ctx's end guarantees by killing the process group.
	var seen []byte
	buf := make([]byte, 4096)
	for !remoteOutput(seen, skip) {
		n, err := f.Read(buf)
		seen = append(seen, buf[:n]...)
		if err != nil && !remoteOutput(seen, skip) {
			werr := cmd.Wait()
			return 0, fmt.Errorf("no remote output (read: %v, exit: %v, ctx: %v): %q", err, werr, ctx.Err(), lastBytes(seen))
		}
	}
	d := time.Since(start)

	if _, err := f.Write([]byte("exit\r")); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, fmt.Errorf("type exit: %w", err)
	}
	rest, _ := io.ReadAll(f) // until EIO
	if err := cmd.Wait(); err != nil {
		return 0, fmt.Errorf("after exit: %w (ctx: %v): %q", err, ctx.Err(), lastBytes(append(seen, rest...)))
	}
	return d, nil
}

// remoteOutput reports whether out holds a byte past the line containing skip.
func remoteOutput(out []byte, skip string) bool {
	if skip == "" {
		return len(out) > 0
	}
	i := bytes.Index(out, []byte(skip))
	if i < 0 {
		return false
	}
	j := bytes.IndexByte(out[i:], '\n')
	return j >= 0 && i+j+1 < len(out)
}

func lastBytes(b []byte) []byte {
	return b[max(0, len(b)-300):]
}

// roundTrip runs argv with stdin as its input and returns how long it took to
// exit successfully.
func roundTrip(ctx context.Context, env []string, stdin string, argv ...string) (time.Duration, error) {
	cmd := command(ctx, env, argv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%w (ctx: %v): %q", err, ctx.Err(), lastBytes(out.Bytes()))
	}
	return d, nil
}

// daemon is a long-running child in its own process group.
type daemon struct {
	name   string
	cmd    *exec.Cmd
	cancel context.CancelFunc
	done   chan struct{} // closed when cmd.Wait has returned
	stderr *lineWatch
	after  func() // runs once the group is gone; may be nil
}

// startDaemon starts argv; stop asks its group to end with SIGTERM and kills
// what is left after a few seconds.
func startDaemon(ctx context.Context, name string, env []string, stdout, stderr *lineWatch, argv ...string) (*daemon, error) {
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, cancel: cancel, done: make(chan struct{}), stderr: stderr}
	go func() {
		defer close(d.done)
		_ = cmd.Wait()
	}()
	return d, nil
}

func (d *daemon) stop() {
	d.cancel()
	<-d.done
	// Children that stayed in the group outlive a killed leader otherwise.
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	if d.after != nil {
		d.after()
	}
}

// await returns the first line w sees containing its wanted text, or fails
// when the daemon exits or timeout passes first.
func (d *daemon) await(ctx context.Context, timeout time.Duration, w *lineWatch) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	select {
	case line := <-w.found:
		return line, nil
	case <-d.done:
		return "", fmt.Errorf("%s exited: %s\n%s", d.name, d.cmd.ProcessState, d.stderr.tail())
	case <-ctx.Done():
		return "", fmt.Errorf("%s: no %q: %w\n%s", d.name, w.want, ctx.Err(), d.stderr.tail())
	}
}

// lineWatch is a child's stdout or stderr: it keeps the last lines for error
// messages and hands over the first line containing want.
type lineWatch struct {
	want  string
	found chan string // buffered: the first line containing want

	mu    sync.Mutex
	part  []byte
	lines []string // the last few
}

func newLineWatch(want string) *lineWatch {
	return &lineWatch{want: want, found: make(chan string, 1)}
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.part = append(w.part, p...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(w.part[:i])
		w.part = w.part[i+1:]
		if w.want != "" && strings.Contains(line, w.want) {
			w.found <- line
			w.want = ""
		}
		w.lines = append(w.lines[max(0, len(w.lines)-19):], line)
	}
}

func (w *lineWatch) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}

// startTetherd starts `tetherd dev` on a port the kernel picks and returns it
// with the local agent's instance id once the welcome text names it.
func startTetherd(ctx context.Context, bin, cfgDir, dataDir string, timeout time.Duration) (*daemon, string, error) {
	stdout := newLineWatch("  instance ")
	d, err := startDaemon(ctx, "tetherd", tetherEnv(cfgDir), stdout, newLineWatch(""),
		filepath.Join(bin, "tetherd"), "dev", "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	line, err := d.await(ctx, timeout, stdout)
	if err != nil {
		d.stop()
		return nil, "", err
	}
	for _, f := range strings.Fields(line) {
		if strings.HasPrefix(f, "mi-") {
			return d, f, nil
		}
	}
	d.stop()
	return nil, "", fmt.Errorf("tetherd: no instance id in %q", line)
}

// startSSHD starts a private sshd on a free loopback port with its own host
// key, accepting only a client key made here, and returns it with the ssh
// command line (without the remote command) that logs in to it.
func startSSHD(ctx context.Context, dir string, timeout time.Duration) (*daemon, []string, error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, nil, err
	}
	hostKey, clientKey := filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "client_ed25519")
	for _, key := range []string{hostKey, clientKey} {
		out, err := exec.CommandContext(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "startlatency", "-f", key).CombinedOutput()
		if err != nil {
			return nil, nil, fmt.Errorf("ssh-keygen: %w: %s", err, out)
		}
	}
	pub, err := os.ReadFile(clientKey + ".pub")
	if err != nil {
		return nil, nil, err
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, pub, 0o600); err != nil {
		return nil, nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	// No motd or last-login banner, so ssh's first byte is the shell's
	// prompt, as it is for tether.
	config := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`ListenAddress 127.0.0.1
Port %d
HostKey %s
PidFile none
UsePAM no
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AuthorizedKeysFile %s
PrintMotd no
PrintLastLog no
`, port, hostKey, authorized)), 0o600); err != nil {
		return nil, nil, err
	}
	removePrivsep, err := privsepDir()
	if err != nil {
		return nil, nil, err
	}

	stderr := newLineWatch("Server listening on")
	d, err := startDaemon(ctx, "sshd", os.Environ(), newLineWatch(""), stderr, sshdPath, "-D", "-e", "-f", config)
	if err != nil {
		removePrivsep()
		return nil, nil, err
	}
	d.after = removePrivsep
	if _, err := d.await(ctx, timeout, stderr); err != nil {
		d.stop()
		return nil, nil, err
	}
	// -F /dev/null keeps the user's ssh config (multiplexing, proxies) out of
	// the measurement; LogLevel=ERROR keeps the known-hosts warning out of the
	// PTY stream.
	ssh := []string{"ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-i", clientKey, "-p", fmt.Sprint(port), "127.0.0.1"}
	return d, ssh, nil
}

// privsepDir creates the empty directory a root sshd insists on, which
// normally comes from the ssh service unit we do not use, and returns how to
// remove it again if we made it.
func privsepDir() (remove func(), err error) {
	const dir = "/run/sshd"
	if _, err := os.Stat(dir); os.Geteuid() != 0 || err == nil {
		return func() {}, nil
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sshd privilege separation directory: %w", err)
	}
	return func() { _ = os.Remove(dir) }, nil
}

// freePort returns a loopback port nothing listens on right now. sshd cannot
// report a port the kernel chose, so this is the usual small race.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
