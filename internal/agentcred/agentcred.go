// Package agentcred owns a managed instance's credential: an ed25519 key pair
// whose private half never leaves the host (state file, mode 0600) and whose
// public half is all the server stores. It signs the agent's HTTP requests and
// verifies them on the server. Standard library only; imported by the agent
// and by the server's agent gateway.
package agentcred

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Scheme is the Authorization scheme of agent requests.
const Scheme = "TETHER-ED25519"

// DateHeader carries the signing time (ISO 8601 basic, UTC).
const DateHeader = "X-Tether-Date"

const dateFormat = "20060102T150405Z"

// MaxSkew is how far a request's time may be from the server's clock.
const MaxSkew = 5 * time.Minute

// Identity is what `tether-agent register` stores in the state dir.
type Identity struct {
	InstanceID string             `json:"InstanceId"`
	Endpoint   string             `json:"Endpoint"`
	Region     string             `json:"Region"`
	PrivateKey ed25519.PrivateKey `json:"PrivateKey"`
}

// FileName is the identity file inside the agent's state dir.
const FileName = "identity.json"

// GenerateKey returns a fresh key pair.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	return ed25519.GenerateKey(rand.Reader)
}

// Save writes id to dir/identity.json with mode 0600, creating dir with
// mode 0700. The write is atomic (temp file + rename).
func Save(dir string, id Identity) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state dir %s: %w", dir, err)
	}
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".identity-*")
	if err != nil {
		return fmt.Errorf("write identity: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), filepath.Join(dir, FileName))
}

// Load reads the identity from dir. It refuses a file readable by others.
func Load(dir string) (Identity, error) {
	p := filepath.Join(dir, FileName)
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Identity{}, fmt.Errorf("no identity in %s: run `tether-agent register` first", dir)
		}
		return Identity{}, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return Identity{}, fmt.Errorf("identity file %s has mode %v: it must be 0600 (chmod 600 %s)", p, st.Mode().Perm(), p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return Identity{}, err
	}
	var id Identity
	if err := json.Unmarshal(b, &id); err != nil {
		return Identity{}, fmt.Errorf("parse identity %s: %w", p, err)
	}
	if len(id.PrivateKey) != ed25519.PrivateKeySize || id.InstanceID == "" || id.Endpoint == "" {
		return Identity{}, fmt.Errorf("identity %s is incomplete: register again", p)
	}
	return id, nil
}

func stringToSign(method, path, date string, body []byte) []byte {
	h := sha256.Sum256(body)
	return []byte(Scheme + "\n" + method + "\n" + path + "\n" + date + "\n" + hex.EncodeToString(h[:]))
}

// Sign adds the date and Authorization headers to req for body.
func Sign(req *http.Request, body []byte, instanceID string, key ed25519.PrivateKey, now time.Time) {
	date := now.UTC().Format(dateFormat)
	sig := ed25519.Sign(key, stringToSign(req.Method, req.URL.EscapedPath(), date, body))
	req.Header.Set(DateHeader, date)
	req.Header.Set("Authorization", Scheme+" InstanceId="+instanceID+", Signature="+base64.StdEncoding.EncodeToString(sig))
}

// ErrUnauthenticated is wrapped by every verification failure.
var ErrUnauthenticated = errors.New("agent request not authenticated")

// Parsed is a parsed but not yet verified agent signature.
type Parsed struct {
	InstanceID string
	Date       string
	Signature  []byte
}

// Parse reads the Authorization header of an agent request.
func Parse(req *http.Request) (Parsed, error) {
	h := req.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(h, Scheme+" ")
	if !ok {
		return Parsed{}, fmt.Errorf("%w: missing %s authorization", ErrUnauthenticated, Scheme)
	}
	var p Parsed
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Parsed{}, fmt.Errorf("%w: malformed authorization", ErrUnauthenticated)
		}
		switch k {
		case "InstanceId":
			p.InstanceID = v
		case "Signature":
			sig, err := base64.StdEncoding.DecodeString(v)
			if err != nil || len(sig) != ed25519.SignatureSize {
				return Parsed{}, fmt.Errorf("%w: malformed signature", ErrUnauthenticated)
			}
			p.Signature = sig
		}
	}
	p.Date = req.Header.Get(DateHeader)
	if p.InstanceID == "" || p.Signature == nil || p.Date == "" {
		return Parsed{}, fmt.Errorf("%w: incomplete authorization", ErrUnauthenticated)
	}
	return p, nil
}

// Verifier checks agent signatures and refuses replays within the skew window.
type Verifier struct {
	mu   sync.Mutex
	seen map[[32]byte]time.Time // signature hash → expiry
}

// NewVerifier returns a Verifier with an empty replay cache.
func NewVerifier() *Verifier { return &Verifier{seen: map[[32]byte]time.Time{}} }

// Verify checks p against the request, body and the instance's public key.
func (v *Verifier) Verify(req *http.Request, body []byte, p Parsed, pub ed25519.PublicKey, now time.Time) error {
	t, err := time.Parse(dateFormat, p.Date)
	if err != nil {
		return fmt.Errorf("%w: bad %s", ErrUnauthenticated, DateHeader)
	}
	if d := now.Sub(t); d > MaxSkew || d < -MaxSkew {
		return fmt.Errorf("%w: request time %s is more than %v from the server's clock", ErrUnauthenticated, p.Date, MaxSkew)
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, stringToSign(req.Method, req.URL.EscapedPath(), p.Date, body), p.Signature) {
		return fmt.Errorf("%w: signature does not verify", ErrUnauthenticated)
	}
	key := sha256.Sum256(p.Signature)
	v.mu.Lock()
	defer v.mu.Unlock()
	for k, exp := range v.seen {
		if now.After(exp) {
			delete(v.seen, k)
		}
	}
	if _, dup := v.seen[key]; dup {
		return fmt.Errorf("%w: replayed request", ErrUnauthenticated)
	}
	v.seen[key] = now.Add(2 * MaxSkew)
	return nil
}
