// Package auth authenticates API callers (SigV4 against stored access keys)
// and authorises their actions with IAM-style policies. It owns principal
// creation (users, access keys) and the sealing of secrets at rest.
// Server-side only.
package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/policy"
	"github.com/tetherhq/tether/internal/sigv4"
	"github.com/tetherhq/tether/internal/store"
)

// AdminPolicy is the full-access policy given to the bootstrap admin.
const AdminPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`

// Service is the SigV4 service name the API accepts.
const Service = "ssm"

// Principal is an authenticated caller.
type Principal struct {
	User        store.User
	ARN         string
	AccessKeyID string
	Tags        map[string]string
	SourceIP    string
	Policies    []policy.NamedPolicy
}

// Config configures an Authority.
type Config struct {
	Store   store.Store
	Sealer  *Sealer
	Region  string
	Account string
	Logger  *slog.Logger
	Now     func() time.Time // default time.Now
}

// Authority authenticates and authorises API calls.
type Authority struct {
	cfg Config
}

// New returns an Authority.
func New(cfg Config) (*Authority, error) {
	if cfg.Store == nil || cfg.Sealer == nil || cfg.Region == "" || cfg.Account == "" {
		return nil, errors.New("auth: store, sealer, region and account are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Authority{cfg: cfg}, nil
}

// UserARN is the ARN of a user.
func (a *Authority) UserARN(name string) string {
	return "arn:aws:iam::" + a.cfg.Account + ":user/" + name
}

// Authenticate verifies the request's SigV4 signature and loads the caller.
func (a *Authority) Authenticate(ctx context.Context, r *http.Request, body []byte) (*Principal, error) {
	parsed, err := sigv4.Parse(r)
	if err != nil {
		return nil, toAPIError(err)
	}
	key, err := a.cfg.Store.GetAccessKey(ctx, parsed.AccessKeyID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && key.Status != store.KeyActive) {
		return nil, toAPIError(sigv4.UnrecognizedClient())
	}
	if err != nil {
		return nil, fmt.Errorf("load access key: %w", err)
	}
	secret, err := a.cfg.Sealer.Open(key.SealedSecret, []byte(key.ID))
	if err != nil {
		return nil, fmt.Errorf("unseal access key %s: %w", key.ID, err)
	}
	if err := sigv4.Verify(r, body, parsed, string(secret), sigv4.VerifyOptions{
		Region: a.cfg.Region, Services: []string{Service}, Now: a.cfg.Now(),
	}); err != nil {
		return nil, toAPIError(err)
	}
	p, err := a.loadPrincipal(ctx, key.UserName)
	if err != nil {
		return nil, err
	}
	p.AccessKeyID = key.ID
	p.SourceIP = sourceIP(r)
	if err := a.cfg.Store.TouchAccessKey(ctx, key.ID, a.cfg.Now()); err != nil {
		a.cfg.Logger.Warn("record access key use", "access_key_id", key.ID, "err", err)
	}
	return p, nil
}

func (a *Authority) loadPrincipal(ctx context.Context, name string) (*Principal, error) {
	u, err := a.cfg.Store.GetUser(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		// The key outlived its user (deleted concurrently): same as unknown.
		return nil, toAPIError(sigv4.UnrecognizedClient())
	}
	if err != nil {
		return nil, fmt.Errorf("load user: %w", err)
	}
	p := &Principal{User: u, ARN: a.UserARN(u.Name), Tags: map[string]string{}}
	tags, err := a.cfg.Store.ListTags(ctx, store.ResourceUser, u.Name)
	if err != nil {
		return nil, fmt.Errorf("load user tags: %w", err)
	}
	for _, t := range tags {
		p.Tags[t.Key] = t.Value
	}
	pols, err := a.cfg.Store.ListUserPolicies(ctx, u.Name)
	if err != nil {
		return nil, fmt.Errorf("load user policies: %w", err)
	}
	for _, pol := range pols {
		doc, err := policy.Parse([]byte(pol.Document))
		if err != nil {
			// A stored policy that no longer parses grants nothing.
			a.cfg.Logger.Error("stored policy does not parse", "user", u.Name, "policy", pol.Name, "err", err)
			continue
		}
		p.Policies = append(p.Policies, policy.NamedPolicy{Name: "user/" + u.Name + "/" + pol.Name, Doc: doc})
	}
	return p, nil
}

// Authorize checks action on resource for p with extra context keys. It
// returns an *api.Error with AWS's AccessDeniedException message on denial.
func (a *Authority) Authorize(p *Principal, action, resource string, extra map[string][]string) error {
	_, err := a.Decide(p, action, resource, extra)
	return err
}

// Decide is Authorize that also returns the policy result, for explanations.
func (a *Authority) Decide(p *Principal, action, resource string, extra map[string][]string) (policy.Result, error) {
	ctx := map[string][]string{
		"aws:username":     {p.User.Name},
		"aws:userid":       {p.User.ID},
		"aws:PrincipalArn": {p.ARN},
		"aws:CurrentTime":  {a.cfg.Now().UTC().Format(time.RFC3339)},
		"aws:EpochTime":    {fmt.Sprint(a.cfg.Now().Unix())},
	}
	if p.SourceIP != "" {
		ctx["aws:SourceIp"] = []string{p.SourceIP}
	}
	for k, v := range p.Tags {
		ctx["aws:PrincipalTag/"+k] = []string{v}
	}
	for k, v := range extra {
		ctx[k] = v
	}
	res := policy.Evaluate(p.Policies, policy.Request{Action: action, Resource: resource, Context: ctx})
	switch res.Decision {
	case policy.Allow:
		return res, nil
	case policy.ExplicitDeny:
		return res, &api.Error{Status: http.StatusBadRequest, Code: api.CodeAccessDenied,
			Message: fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s with an explicit deny", p.ARN, action, resource)}
	default:
		return res, &api.Error{Status: http.StatusBadRequest, Code: api.CodeAccessDenied,
			Message: fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action", p.ARN, action, resource, action)}
	}
}

func toAPIError(err error) error {
	var se *sigv4.Error
	if errors.As(err, &se) {
		status := http.StatusBadRequest
		if se.Code == api.CodeMissingAuthToken {
			status = http.StatusForbidden
		}
		return &api.Error{Status: status, Code: se.Code, Message: se.Message}
	}
	return err
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// --- principal administration ---

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func randomID(prefix string, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	var sb strings.Builder
	sb.WriteString(prefix)
	for _, c := range b {
		sb.WriteByte(idAlphabet[int(c)%len(idAlphabet)])
	}
	return sb.String()
}

// NewSecret returns a 40-character secret access key.
func NewSecret() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	b := make([]byte, 40)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// CreateUser creates a user with a fresh id.
func (a *Authority) CreateUser(ctx context.Context, name string) (store.User, error) {
	u := store.User{Name: name, ID: randomID("AIDA", 17), CreatedAt: a.cfg.Now().UTC()}
	return u, a.cfg.Store.CreateUser(ctx, u)
}

// CreateAccessKey creates an access key for user and returns its secret,
// which is shown once and stored only sealed.
func (a *Authority) CreateAccessKey(ctx context.Context, user string) (id, secret string, err error) {
	id = randomID("AKIA", 16)
	secret = NewSecret()
	k := store.AccessKey{ID: id, UserName: user, SealedSecret: a.cfg.Sealer.Seal([]byte(secret), []byte(id)),
		Status: store.KeyActive, CreatedAt: a.cfg.Now().UTC()}
	if err := a.cfg.Store.CreateAccessKey(ctx, k); err != nil {
		return "", "", err
	}
	return id, secret, nil
}

// RevealSecret unseals a stored key's secret (used by `tetherd dev` to
// rewrite the local CLI profile; never exposed over the API).
func (a *Authority) RevealSecret(ctx context.Context, id string) (string, error) {
	k, err := a.cfg.Store.GetAccessKey(ctx, id)
	if err != nil {
		return "", err
	}
	b, err := a.cfg.Sealer.Open(k.SealedSecret, []byte(k.ID))
	return string(b), err
}
