package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// MessageSSHPublicKey is the control message that pushes a key (mirrors
// fleet.MessageSSHPublicKey; the agent does not import server packages).
const MessageSSHPublicKey = "tether_ssh_public_key"

// SSHKeysFile holds pushed keys in the state dir (mode 0600).
const SSHKeysFile = "ssh-keys.json"

// PushedKey is one pushed SSH public key.
type PushedKey struct {
	OSUser    string    `json:"OSUser"`
	PublicKey string    `json:"PublicKey"`
	ExpiresAt time.Time `json:"ExpiresAt"`
	RequestID string    `json:"RequestId"`
	Principal string    `json:"Principal"`
}

var keysMu sync.Mutex

// addPushedKey stores k, dropping expired keys.
func addPushedKey(stateDir string, k PushedKey, now time.Time) error {
	keysMu.Lock()
	defer keysMu.Unlock()
	keys, _ := readPushedKeys(stateDir)
	live := keys[:0]
	for _, x := range keys {
		if x.ExpiresAt.After(now) {
			live = append(live, x)
		}
	}
	live = append(live, k)
	b, err := json.Marshal(live)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(stateDir, ".ssh-keys-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(stateDir, SSHKeysFile))
}

func readPushedKeys(stateDir string) ([]PushedKey, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, SSHKeysFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var keys []PushedKey
	if err := json.Unmarshal(b, &keys); err != nil {
		return nil, fmt.Errorf("%s: %w", SSHKeysFile, err)
	}
	return keys, nil
}

// PrintAuthorizedKeys writes the unexpired pushed keys of user, one per
// line, for sshd's AuthorizedKeysCommand. It never fails open: a missing or
// unreadable file prints nothing.
func PrintAuthorizedKeys(w io.Writer, stateDir, user string, now time.Time) error {
	keys, err := readPushedKeys(stateDir)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.OSUser == user && k.ExpiresAt.After(now) && !strings.ContainsAny(k.PublicKey, "\r\n") {
			fmt.Fprintln(w, k.PublicKey)
		}
	}
	return nil
}
