// Package benchenv starts what the benchmarks under bench/ measure: it
// builds the module's binaries, runs `tetherd dev` and a private sshd on
// loopback, each in its own process group, and stops them again. Only
// packages under bench/ import it.
package benchenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Progress prints a line on stderr, where benchmarks report what they do;
// stdout is for the table.
func Progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// Build compiles ./cmd/... of the module the go tool finds from the working
// directory into dir, so a benchmark measures this checkout. extra adds
// files to the build without touching the checkout (go build -overlay),
// keyed by path relative to the module root; it may be nil.
func Build(ctx context.Context, dir string, extra map[string][]byte) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if root == "." || strings.TrimSpace(string(gomod)) == os.DevNull {
		return errors.New("run from inside the tether module: go run ./bench/" + filepath.Base(os.Args[0]))
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if len(extra) > 0 {
		overlay, err := writeOverlay(dir+"-overlay", root, extra)
		if err != nil {
			return err
		}
		args = append(args, "-overlay", overlay)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/...")...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/...: %w", err)
	}
	return nil
}

// writeOverlay writes extra's files under dir and returns the overlay file
// that maps them into root.
func writeOverlay(dir, root string, extra map[string][]byte) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var o struct{ Replace map[string]string }
	o.Replace = map[string]string{}
	i := 0
	for rel, content := range extra {
		f := filepath.Join(dir, fmt.Sprintf("%d-%s", i, filepath.Base(rel)))
		i++
		if err := os.WriteFile(f, content, 0o644); err != nil {
			return "", err
		}
		o.Replace[filepath.Join(root, rel)] = f
	}
	b, err := json.Marshal(o)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "overlay.json")
	return path, os.WriteFile(path, b, 0o644)
}

// TetherEnv is our environment with the CLI pointed only at the dev profile.
func TetherEnv(cfgDir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TETHER_") {
			env = append(env, kv)
		}
	}
	return append(env, "TETHER_CONFIG_DIR="+cfgDir)
}

// Command returns a command whose whole process group is killed when ctx
// ends. The caller puts it in its own group: Setpgid, or a PTY's Setsid.
func Command(ctx context.Context, env []string, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	return cmd
}

// Tetherd is a running `tetherd dev`.
type Tetherd struct {
	*Daemon
	InstanceID string // the local agent's
	Endpoint   string // the server's URL
}

// StartTetherd starts `tetherd dev` on a port the kernel picks and returns it
// once the welcome text names the local agent's instance.
func StartTetherd(ctx context.Context, bin, cfgDir, dataDir string, timeout time.Duration) (*Tetherd, error) {
	return StartTetherdEnv(ctx, bin, TetherEnv(cfgDir), dataDir, timeout)
}

// StartTetherdEnv is StartTetherd with the whole environment given: env
// from TetherEnv plus, for instance, TETHER_TLS_CERT, TETHER_TLS_KEY and
// SSL_CERT_FILE (which the built-in agent needs to trust the certificate).
func StartTetherdEnv(ctx context.Context, bin string, env []string, dataDir string, timeout time.Duration) (*Tetherd, error) {
	stdout := NewLineWatch("  instance ")
	d, err := StartDaemon(ctx, "tetherd", env, stdout, NewLineWatch(""),
		filepath.Join(bin, "tetherd"), "dev", "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	line, err := d.Await(ctx, timeout, stdout)
	if err != nil {
		d.Stop()
		return nil, err
	}
	t := &Tetherd{Daemon: d}
	for _, f := range strings.Fields(line) {
		if strings.HasPrefix(f, "mi-") {
			t.InstanceID = f
		}
	}
	// The endpoint line comes before the instance line.
	for _, l := range strings.Split(stdout.Tail(), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "endpoint" {
			t.Endpoint = f[1]
		}
	}
	if t.InstanceID == "" {
		d.Stop()
		return nil, fmt.Errorf("tetherd: no instance id in %q", line)
	}
	return t, nil
}

// WaitOnline polls describe-instance-information until id reports Online.
func WaitOnline(ctx context.Context, timeout time.Duration, env []string, tether, id string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := "no answer yet"
	for {
		cmd := exec.CommandContext(ctx, tether, "describe-instance-information", "--output", "json")
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			last = err.Error()
		} else {
			var resp struct {
				InstanceInformationList []struct{ InstanceId, PingStatus string }
			}
			if err := json.Unmarshal(out, &resp); err != nil {
				return fmt.Errorf("describe-instance-information: %w", err)
			}
			last = "instance not listed"
			for _, inst := range resp.InstanceInformationList {
				if inst.InstanceId == id {
					last = "PingStatus " + inst.PingStatus
					if inst.PingStatus == "Online" {
						return nil
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("instance %s not Online (%s): %w", id, last, ctx.Err())
		case <-tick.C:
		}
	}
}

// SSHVersion is the ssh client's version, without the OpenSSL part.
func SSHVersion(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "ssh", "-V").CombinedOutput()
	if err != nil {
		return "ssh not runnable"
	}
	v, _, _ := strings.Cut(strings.TrimSpace(string(out)), ",")
	return v
}
