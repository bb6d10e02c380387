package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/testenv"
)

// TestServeWithConfig is the production path: a config file, bootstrap of
// the first admin, `tetherd serve`, a separately registered agent, SIGTERM.
func TestServeWithConfig(t *testing.T) {
	bins := testenv.Build(t)
	dir := t.TempDir()
	port := testenv.FreePort(t)
	cfg := filepath.Join(dir, "tether.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("listen: 127.0.0.1:%d\ndata_dir: %s\nregion: eu-west-1\nidle_timeout: 5m\n", port, filepath.Join(dir, "data"))), 0o600)
	cfgDir := filepath.Join(dir, "cli")
	env := append(os.Environ(), "TETHER_CONFIG_DIR="+cfgDir)

	out, err := exec.Command(bins.Tetherd, "--check-config", cfg).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("check-config: %v %s", err, out)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("listen: 0.0.0.0:7443\nlisten_adress: x\n"), 0o600)
	if out, err := exec.Command(bins.Tetherd, "--check-config", bad).CombinedOutput(); err == nil || !strings.Contains(string(out), "listen_adress") {
		t.Fatalf("bad config accepted or unclear: %v %s", err, out)
	}

	boot := exec.Command(bins.Tetherd, "bootstrap", "--config", cfg, "--write-profile")
	boot.Env = env
	if out, err := boot.CombinedOutput(); err != nil || !strings.Contains(string(out), "aws_access_key_id") {
		t.Fatalf("bootstrap: %v %s", err, out)
	}
	srv := testenv.Start(t, []string{"TETHER_CONFIG_DIR=" + cfgDir}, bins.Tetherd, "serve", "--config", cfg)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	testenv.Eventually(t, 30*time.Second, func() error {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
	s := &testenv.Server{Bins: bins, URL: url, ConfigDir: cfgDir, DataDir: filepath.Join(dir, "data"), Proc: srv}
	s.SetT(t)
	var me struct{ Arn string }
	s.JSON(&me, "whoami")
	if !strings.HasSuffix(me.Arn, ":user/admin") {
		t.Fatalf("whoami %+v", me)
	}
	a := s.StartAgent("served")
	r := s.CLI("echo served\n", "start-session", "--target", a.InstanceID)
	if r.Code != 0 || r.Stdout != "served\n" {
		t.Fatalf("session: %d %q %s", r.Code, r.Stdout, r.Stderr)
	}
	// The region from the file is in every ARN.
	if !strings.Contains(r.Stderr+s.CLI("", "start-session", "--target", "mi-00000000000000000").Stderr, "TargetNotConnected") {
		t.Fatal("unknown target not reported")
	}
	srv.Signal(syscall.SIGTERM)
	if code := srv.Wait(20 * time.Second); code != 0 {
		t.Fatalf("tetherd serve exit %d after SIGTERM:\n%s", code, srv.Stderr.String())
	}
	// The agent notices and keeps retrying rather than exiting.
	if code := a.Proc.Wait(2 * time.Second); code != -1 {
		t.Fatalf("agent exited (%d) when the server went away; it should reconnect", code)
	}
}
