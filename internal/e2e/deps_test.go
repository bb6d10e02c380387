package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/tetherhq/tether/internal/testenv"
)

// TestAgentLinksNoServerCode keeps server code (store, bus, SQL, policy,
// relay, ...) out of the agent binary: a host compromise should not hand the
// attacker the server's code paths, and the agent stays small.
func TestAgentLinksNoServerCode(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "./cmd/tether-agent")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{
		"github.com/tetherhq/tether/internal/store", "github.com/tetherhq/tether/internal/bus",
		"github.com/tetherhq/tether/internal/server", "github.com/tetherhq/tether/internal/relay",
		"github.com/tetherhq/tether/internal/gateway", "github.com/tetherhq/tether/internal/session",
		"github.com/tetherhq/tether/internal/auth", "github.com/tetherhq/tether/internal/policy",
		"github.com/tetherhq/tether/internal/fleet", "modernc.org/sqlite", "database/sql",
		"github.com/jackc/pgx", "github.com/nats-io",
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list returned %d packages; expected the agent's dependency tree", len(deps))
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("tether-agent links %s", d)
			}
		}
	}
}
