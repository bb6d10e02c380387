// Package agentcmd is tether-agent's command line: register and run.
package agentcmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/tetherhq/tether/internal/agent"
	"github.com/tetherhq/tether/internal/logging"
)

func defaultStateDir() string {
	if d := os.Getenv("TETHER_AGENT_STATE_DIR"); d != "" {
		return d
	}
	return "/var/lib/tether-agent"
}

// Main runs tether-agent and returns its exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, "usage:\n  tether-agent register --endpoint URL --activation-id ID --activation-code CODE [--name N] [--state-dir DIR]\n  tether-agent run [--state-dir DIR] [--deny-networks CIDR,...]\n  tether-agent authorized-keys [--state-dir DIR] USER [FINGERPRINT]   (sshd AuthorizedKeysCommand)\n  tether-agent version")
		return 0
	}
	switch args[0] {
	case "version", "--version":
		fmt.Fprintln(stdout, "tether-agent", agent.Version)
		return 0
	case "register":
		fs := flag.NewFlagSet("tether-agent register", flag.ContinueOnError)
		fs.SetOutput(stderr)
		var rc agent.RegisterConfig
		fs.StringVar(&rc.Endpoint, "endpoint", "", "server URL, e.g. https://tether.example.com (required)")
		fs.StringVar(&rc.ActivationID, "activation-id", "", "activation id (required)")
		fs.StringVar(&rc.ActivationCode, "activation-code", "", "activation code (required)")
		fs.StringVar(&rc.Name, "name", "", "instance name (default: the activation's default name)")
		fs.StringVar(&rc.StateDir, "state-dir", defaultStateDir(), "where the identity is stored (mode 0600)")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		if rc.Endpoint == "" || rc.ActivationID == "" || rc.ActivationCode == "" {
			fmt.Fprintln(stderr, "tether-agent register: --endpoint, --activation-id and --activation-code are required")
			return 2
		}
		id, err := agent.Register(ctx, rc)
		if err != nil {
			fmt.Fprintln(stderr, "tether-agent register:", err)
			return 1
		}
		fmt.Fprintf(stdout, "Registered as %s. Identity stored in %s.\nStart the agent with: tether-agent run --state-dir %s\n", id.InstanceID, rc.StateDir, rc.StateDir)
		return 0
	case "authorized-keys":
		fs := flag.NewFlagSet("tether-agent authorized-keys", flag.ContinueOnError)
		fs.SetOutput(stderr)
		stateDir := fs.String("state-dir", defaultStateDir(), "the agent's state dir")
		if err := fs.Parse(args[1:]); err != nil || fs.NArg() < 1 {
			fmt.Fprintln(stderr, "usage: tether-agent authorized-keys [--state-dir DIR] USER [FINGERPRINT]")
			return 2
		}
		if err := agent.PrintAuthorizedKeys(stdout, *stateDir, fs.Arg(0), time.Now()); err != nil {
			fmt.Fprintln(stderr, "tether-agent authorized-keys:", err)
			return 1
		}
		return 0
	case "run":
		fs := flag.NewFlagSet("tether-agent run", flag.ContinueOnError)
		fs.SetOutput(stderr)
		stateDir := fs.String("state-dir", defaultStateDir(), "where the identity is stored")
		level := fs.String("log-level", "info", "debug, info, warn or error")
		deny := fs.String("deny-networks", "", "CIDRs port sessions to remote hosts may not reach (default: link-local, metadata, loopback; \"none\" allows all)")
		minFree := fs.Uint64("recording-min-free", agent.DefaultRecordingMinFree>>20, "MiB the transcript spool's disk must have free for a session to start")
		noRec := fs.Bool("no-recording", false, "record no transcripts (benchmarks only: sessions leave no record)")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		log := logging.New(stderr, *level)
		cfg := agent.Config{StateDir: *stateDir, Logger: log, RecordingMinFree: *minFree << 20, NoRecording: *noRec}
		if *noRec {
			log.Warn("transcripts are off (--no-recording): sessions on this host leave no transcript")
		}
		if *deny == "none" {
			cfg.DeniedNetworks = []netip.Prefix{}
		} else if *deny != "" {
			for _, c := range strings.Split(*deny, ",") {
				p, err := netip.ParsePrefix(strings.TrimSpace(c))
				if err != nil {
					fmt.Fprintf(stderr, "tether-agent run: --deny-networks: %q is not a CIDR\n", c)
					return 2
				}
				cfg.DeniedNetworks = append(cfg.DeniedNetworks, p)
			}
		}
		a, err := agent.New(cfg)
		if err != nil {
			fmt.Fprintln(stderr, "tether-agent run:", err)
			return 1
		}
		log.Info("tether-agent starting", "instance_id", a.InstanceID(), "version", agent.Version)
		if err := a.Run(ctx); err != nil {
			fmt.Fprintln(stderr, "tether-agent run:", err)
			if errors.Is(err, agent.ErrDeregistered) {
				return 3
			}
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "tether-agent: unknown command %q (register, run, version)\n", args[0])
	return 2
}
