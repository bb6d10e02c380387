package e2e

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/testenv"
)

func TestSeparateAgent(t *testing.T) {
	s := testenv.StartDev(t)
	a := s.StartAgent("web-1", "Environment=Development", "Team=ops")

	t.Run("opens no listening socket", func(t *testing.T) {
		socks, err := testenv.ListeningSockets(a.Proc.Cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		if len(socks) != 0 {
			t.Fatalf("tether-agent listens on %v", socks)
		}
	})
	t.Run("reports its host", func(t *testing.T) {
		i, ok := s.Instance(a.InstanceID)
		if !ok {
			t.Fatal("not listed")
		}
		if i.Name != "web-1" || i.PlatformType != "Linux" || i.ComputerName == "" || i.IPAddress == "" ||
			i.AgentVersion == "" || i.ResourceType != "ManagedInstance" || i.LastPingDateTime == 0 || i.RegistrationDate == 0 {
			t.Fatalf("instance information %+v", i)
		}
	})
	t.Run("carries the activation's tags", func(t *testing.T) {
		var out api.ListTagsOutput
		s.JSON(&out, "list-tags-for-resource", "--resource-id", a.InstanceID)
		got := map[string]string{}
		for _, tg := range out.TagList {
			got[tg.Key] = tg.Value
		}
		if got["Environment"] != "Development" || got["Team"] != "ops" {
			t.Fatalf("tags %v", got)
		}
	})
	t.Run("runs a session", func(t *testing.T) {
		r := s.CLI("hostname\nexit 5\n", "start-session", "--target", a.InstanceID)
		if r.Code != 5 || strings.TrimSpace(r.Stdout) == "" {
			t.Fatalf("code %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("filters and pages", func(t *testing.T) {
		var out api.DescribeInstanceInformationOutput
		s.JSON(&out, "describe-instance-information", "--filters", "Key=tag:Environment,Values=Development")
		if len(out.InstanceInformationList) != 1 || out.InstanceInformationList[0].InstanceID != a.InstanceID {
			t.Fatalf("tag filter: %+v", out.InstanceInformationList)
		}
		s.JSON(&out, "describe-instance-information", "--filters", "Key=PingStatus,Values=Online")
		if len(out.InstanceInformationList) != 2 {
			t.Fatalf("PingStatus filter: %+v", out.InstanceInformationList)
		}
		r := s.CLI("", "describe-instance-information", "--filters", "Key=Bogus,Values=x")
		if r.Code != 254 || !strings.Contains(r.Stderr, "InvalidFilterKey") {
			t.Fatalf("bogus filter: %d %s", r.Code, r.Stderr)
		}
	})
	t.Run("tags can be changed", func(t *testing.T) {
		if r := s.CLI("", "add-tags-to-resource", "--resource-id", a.InstanceID, "--tags", "Environment=Production"); r.Code != 0 {
			t.Fatal(r.Stderr)
		}
		if r := s.CLI("", "remove-tags-from-resource", "--resource-id", a.InstanceID, "--tag-keys", "Team"); r.Code != 0 {
			t.Fatal(r.Stderr)
		}
		var out api.ListTagsOutput
		s.JSON(&out, "list-tags-for-resource", "--resource-id", a.InstanceID)
		if len(out.TagList) != 1 || out.TagList[0] != (api.Tag{Key: "Environment", Value: "Production"}) {
			t.Fatalf("tags %+v", out.TagList)
		}
	})
	t.Run("PingStatus turns ConnectionLost when the agent vanishes", func(t *testing.T) {
		a.Proc.Signal(syscall.SIGKILL)
		start := time.Now()
		s.WaitPing(a.InstanceID, "ConnectionLost")
		if d := time.Since(start); d > time.Minute {
			t.Fatalf("took %v", d)
		}
		var st api.GetConnectionStatusOutput
		s.JSON(&st, "get-connection-status", "--target", a.InstanceID)
		if st.Status != "notconnected" {
			t.Fatalf("status %q", st.Status)
		}
		r := s.CLI("", "start-session", "--target", a.InstanceID)
		if r.Code != 254 || !strings.Contains(r.Stderr, "An error occurred (TargetNotConnected) when calling the StartSession operation: "+a.InstanceID+" is not connected.") {
			t.Fatalf("start-session to a lost agent: %d %s", r.Code, r.Stderr)
		}
	})
	t.Run("a restarted agent comes back", func(t *testing.T) {
		testenv.Start(t, nil, s.Bins.Agent, "run", "--state-dir", a.StateDir)
		s.WaitPing(a.InstanceID, "Online")
	})
}

func TestDeregisteredAgentCannotComeBack(t *testing.T) {
	s := testenv.StartDev(t)
	a := s.StartAgent("doomed")
	if r := s.CLI("", "deregister-managed-instance", "--instance-id", a.InstanceID); r.Code != 0 {
		t.Fatalf("deregister: %s", r.Stderr)
	}
	if code := a.Proc.Wait(30 * time.Second); code != 3 {
		t.Fatalf("agent exit code %d, want 3 (deregistered); stderr:\n%s", code, a.Proc.Stderr.String())
	}
	if !strings.Contains(a.Proc.Stderr.String(), "not registered") {
		t.Fatalf("agent did not say why it stopped:\n%s", a.Proc.Stderr.String())
	}
	// Restarting it with the same identity fails the same way.
	out, err := exec.Command(s.Bins.Agent, "run", "--state-dir", a.StateDir).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("restarted agent: %v\n%s", err, out)
	}
	if _, ok := s.Instance(a.InstanceID); ok {
		t.Fatal("deregistered instance still listed")
	}
}

func TestActivationLimits(t *testing.T) {
	s := testenv.StartDev(t)
	var act api.CreateActivationOutput
	s.JSON(&act, "create-activation", "--registration-limit", "1", "--default-instance-name", "one")
	register := func(id, code string) (string, error) {
		out, err := exec.Command(s.Bins.Agent, "register", "--endpoint", s.URL, "--activation-id", id,
			"--activation-code", code, "--state-dir", t.TempDir()).CombinedOutput()
		return string(out), err
	}
	if out, err := register(act.ActivationID, act.ActivationCode); err != nil {
		t.Fatalf("first registration: %v %s", err, out)
	}
	if out, err := register(act.ActivationID, act.ActivationCode); err == nil || !strings.Contains(out, "registration limit") {
		t.Fatalf("second registration: %v %s", err, out)
	}
	if out, err := register(act.ActivationID, "wrong-code"); err == nil || !strings.Contains(out, "not valid") {
		t.Fatalf("wrong code: %v %s", err, out)
	}
	var acts api.DescribeActivationsOutput
	s.JSON(&acts, "describe-activations")
	found := false
	for _, a := range acts.ActivationList {
		if a.ActivationID == act.ActivationID {
			found = a.RegistrationsCount == 1 && a.RegistrationLimit == 1 && !a.Expired
		}
	}
	if !found {
		t.Fatalf("activation not reported with 1/1 registrations: %+v", acts.ActivationList)
	}

	var short api.CreateActivationOutput
	s.JSON(&short, "create-activation", "--expires-in", "1s", "--registration-limit", "5")
	testenv.Eventually(t, 10*time.Second, func() error {
		var acts api.DescribeActivationsOutput
		s.JSON(&acts, "describe-activations")
		for _, a := range acts.ActivationList {
			if a.ActivationID == short.ActivationID && a.Expired {
				return nil
			}
		}
		return &waitErr{"Expired", ""}
	})
	if out, err := register(short.ActivationID, short.ActivationCode); err == nil || !strings.Contains(out, "expired") {
		t.Fatalf("registration with an expired activation: %v %s", err, out)
	}
	if r := s.CLI("", "delete-activation", "--activation-id", act.ActivationID); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	if r := s.CLI("", "delete-activation", "--activation-id", act.ActivationID); r.Code != 254 || !strings.Contains(r.Stderr, "InvalidActivationId") {
		t.Fatalf("second delete: %d %s", r.Code, r.Stderr)
	}
}
