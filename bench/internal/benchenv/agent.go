package benchenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// StartAgent registers a tether-agent of its own with a new activation and
// runs it with `tether-agent run --state-dir stateDir` and runArgs, as on a
// managed host, so that its process can be measured apart from tetherd dev's
// built-in agent. It returns the agent and its instance id once the instance
// is Online.
func StartAgent(ctx context.Context, bin string, env []string, endpoint, stateDir string, timeout time.Duration, runArgs ...string) (*Daemon, string, error) {
	// The daemon lives on after we return: only the setup commands get
	// the timeout.
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tether, agent := filepath.Join(bin, "tether"), filepath.Join(bin, "tether-agent")
	cmd := exec.CommandContext(sctx, tether, "create-activation", "--output", "json")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return nil, "", fmt.Errorf("tether create-activation: %w: %s", err, ExitStderr(err))
	}
	var act struct{ ActivationId, ActivationCode string }
	if err := json.Unmarshal(out, &act); err != nil || act.ActivationId == "" {
		return nil, "", fmt.Errorf("tether create-activation: unexpected output %q", out)
	}
	cmd = exec.CommandContext(sctx, agent, "register", "--endpoint", endpoint,
		"--activation-id", act.ActivationId, "--activation-code", act.ActivationCode, "--state-dir", stateDir)
	cmd.Env = env
	out, err = cmd.Output()
	if err != nil {
		return nil, "", fmt.Errorf("tether-agent register: %w: %s", err, ExitStderr(err))
	}
	id := regexp.MustCompile(`mi-[0-9a-f]+`).FindString(string(out))
	if id == "" {
		return nil, "", fmt.Errorf("tether-agent register: no instance id in %q", out)
	}
	argv := append([]string{agent, "run", "--state-dir", stateDir}, runArgs...)
	d, err := StartDaemon(ctx, "tether-agent", env, NewLineWatch(""), NewLineWatch(""), argv...)
	if err != nil {
		return nil, "", err
	}
	if err := WaitOnline(ctx, timeout, env, tether, id); err != nil {
		d.Stop()
		return nil, "", fmt.Errorf("%w\n%s", err, d.Stderr.Tail())
	}
	return d, id, nil
}

// ExitStderr is the trimmed standard error of a command that failed under
// exec.Cmd.Output, or "".
func ExitStderr(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}
