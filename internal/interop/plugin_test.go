package interop

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/testenv"
)

// pluginPkg is the plugin's main package inside the interop/plugin module.
const pluginPkg = "github.com/aws/session-manager-plugin/src/sessionmanagerplugin-main"

var (
	pluginOnce sync.Once
	pluginBin  string
	pluginErr  error
)

// pluginDir returns a directory holding only `session-manager-plugin`, built
// from interop/plugin. The build takes about 30 s, so the binary is cached per
// machine under the user cache directory, keyed by the module's go.mod and
// go.sum: CI runs after the first one reuse it, and changing the pinned
// versions rebuilds it. A file lock keeps concurrent test processes from
// building it twice.
func pluginDir(t testing.TB) string {
	t.Helper()
	pluginOnce.Do(func() { pluginBin, pluginErr = buildPlugin(t) })
	if pluginErr != nil {
		t.Fatalf("session-manager-plugin: %v", pluginErr)
	}
	return filepath.Dir(pluginBin)
}

func buildPlugin(t testing.TB) (string, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return "", err
	}
	mod := filepath.Join(root, "interop", "plugin")
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(mod, f))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	fmt.Fprintf(h, "%s/%s\n", runtime.GOOS, runtime.GOARCH)
	cache, err := os.UserCacheDir()
	if err != nil { // no HOME: still cached, for this boot at least
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "tether-interop", hex.EncodeToString(h.Sum(nil))[:16])
	bin := filepath.Join(dir, "session-manager-plugin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(bin); err == nil {
		t.Logf("session-manager-plugin: cached %s", bin)
		return bin, nil
	}

	t.Logf("session-manager-plugin: building %s into %s (first run on this machine, about 30 s)", pluginPkg, dir)
	start := time.Now()
	tmp := bin + ".tmp"
	cmd := exec.Command("go", "build", "-v", "-o", tmp, pluginPkg)
	cmd.Dir = mod
	// The module is built on its own terms: no workspace, no flags meant for
	// Tether's module.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	out, err := cmd.StderrPipe()
	if err != nil {
		return "", err
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	// go build -v names each package as it compiles: that is the progress.
	var log strings.Builder
	sc := bufio.NewScanner(out)
	n := 0
	for sc.Scan() {
		n++
		log.WriteString(sc.Text() + "\n")
		t.Logf("session-manager-plugin: [%3d, %4.1fs] %s", n, time.Since(start).Seconds(), sc.Text())
	}
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("go build in %s: %v\n%s", mod, err, log.String())
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	t.Logf("session-manager-plugin: built in %.1fs", time.Since(start).Seconds())
	return bin, nil
}

// TestPluginBuilds builds (or finds) the plugin and checks it is the source
// build protocol.md §7 describes. CI runs it alone first, with -v, to show
// the build's progress.
func TestPluginBuilds(t *testing.T) {
	bin := filepath.Join(pluginDir(t), "session-manager-plugin")
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", bin, err, out)
	}
	// A source build reports 1.3.0.0: above 1.2.497.0, so AWS CLI v1 hands
	// the StartSession response over in AWS_SSM_START_SESSION_RESPONSE.
	if v := strings.TrimSpace(string(out)); v != "1.3.0.0" {
		t.Fatalf("plugin version %q, want 1.3.0.0", v)
	}
	out, _ = exec.Command(bin).CombinedOutput()
	if !strings.Contains(string(out), "installed successfully") {
		t.Fatalf("plugin with no arguments: %q", out)
	}
}
