package agent

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/tetherhq/tether/internal/document"
)

// SSMUser is the account sessions run as when run-as is off and the agent
// is root, as AWS's agent does.
const SSMUser = "ssm-user"

// SudoersFile grants ssm-user passwordless sudo (written once, when the
// agent creates the user, unless the preferences turn it off).
const SudoersFile = "/etc/sudoers.d/ssm-agent-users"

// identity is who a session's processes run as.
type identity struct {
	name   string
	uid    uint32
	gid    uint32
	groups []uint32
	home   string
	shell  string
	// switchUser is false when the process keeps the agent's own identity.
	switchUser bool
}

// errRunAs is a run-as failure whose message is shown to the user.
type errRunAs struct{ msg string }

func (e *errRunAs) Error() string { return e.msg }

var ssmUserMu sync.Mutex

// resolveIdentity decides who runs a session (protocol.md §6.4, D7):
// runAsElevated → root; an agent that is not root → itself; run-as on →
// the SSMSessionRunAs user (from the server) or runAsDefaultUser, never
// root, and it must exist; run-as off → ssm-user, created on first use.
func resolveIdentity(prefs document.Inputs, runAsUser, instanceID string, elevated bool) (identity, error) {
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return identity{}, err
		}
		return lookupIdentity(u, false)
	}
	if elevated {
		u, err := user.LookupId("0")
		if err != nil {
			return identity{}, err
		}
		return lookupIdentity(u, true)
	}
	name := SSMUser
	if prefs.RunAsEnabled {
		name = runAsUser
		if name == "" {
			name = prefs.RunAsDefaultUser
		}
		if name == "" {
			return identity{}, &errRunAs{"run-as is enabled but no user is set: tag your IAM user with SSMSessionRunAs, or set runAsDefaultUser in SSM-SessionManagerRunShell"}
		}
	} else if err := ensureSSMUser(!prefs.SSMUserSudoDisabled); err != nil {
		return identity{}, &errRunAs{fmt.Sprintf("could not create %s on %s: %v", SSMUser, instanceID, err)}
	}
	u, err := user.Lookup(name)
	if err != nil {
		return identity{}, &errRunAs{fmt.Sprintf("the run-as user %q does not exist on %s: create it there, or change the SSMSessionRunAs tag or runAsDefaultUser", name, instanceID)}
	}
	if u.Uid == "0" {
		return identity{}, &errRunAs{fmt.Sprintf("run-as user %q is root; root is never a run-as target: use a regular user (with sudo if needed)", name)}
	}
	return lookupIdentity(u, true)
}

func lookupIdentity(u *user.User, switchUser bool) (identity, error) {
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return identity{}, fmt.Errorf("user %s has a non-numeric uid or gid", u.Username)
	}
	id := identity{name: u.Username, uid: uint32(uid), gid: uint32(gid), home: u.HomeDir, shell: loginShell(u), switchUser: switchUser}
	if gids, err := u.GroupIds(); err == nil {
		for _, g := range gids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				id.groups = append(id.groups, uint32(n))
			}
		}
	}
	if st, err := os.Stat(id.home); err != nil || !st.IsDir() {
		id.home = "/"
	}
	return id, nil
}

// ensureSSMUser creates ssm-user (and, on creation only, its sudoers
// drop-in when grantSudo) if it does not exist.
func ensureSSMUser(grantSudo bool) error {
	ssmUserMu.Lock()
	defer ssmUserMu.Unlock()
	if _, err := user.Lookup(SSMUser); err == nil {
		return nil
	}
	shell := "/bin/bash"
	if _, err := os.Stat(shell); err != nil {
		shell = "/bin/sh"
	}
	if out, err := exec.Command("useradd", "--create-home", "--shell", shell, SSMUser).CombinedOutput(); err != nil {
		return fmt.Errorf("useradd: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if !grantSudo {
		return nil
	}
	if err := os.MkdirAll("/etc/sudoers.d", 0o750); err != nil {
		return err
	}
	return os.WriteFile(SudoersFile, []byte(SSMUser+" ALL=(ALL) NOPASSWD:ALL\n"), 0o440)
}

// apply sets the process's credentials and a clean environment.
func (id identity) apply(cmd *exec.Cmd, extraEnv ...string) {
	cmd.Env = append([]string{
		"HOME=" + id.home, "USER=" + id.name, "LOGNAME=" + id.name, "SHELL=" + id.shell,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
	}, extraEnv...)
	cmd.Dir = id.home
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	if id.switchUser {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: id.uid, Gid: id.gid, Groups: id.groups}
	}
}
