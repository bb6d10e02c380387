package interop

import (
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

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
	pluginOnce.Do(func() {
		pluginBin, _, pluginErr = testenv.BuildTool(t, testenv.ToolBuild{Name: "session-manager-plugin",
			Module: "interop/plugin", Package: pluginPkg, Expect: "about 30 s"})
	})
	if pluginErr != nil {
		t.Fatalf("session-manager-plugin: %v", pluginErr)
	}
	return filepath.Dir(pluginBin)
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
