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
	"net/netip"
	"strings"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/audit"
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
	Groups      []string
	Policies    []policy.NamedPolicy
	documents   []string // raw texts of Policies, for Mentions
}

// Config configures an Authority.
type Config struct {
	Store   store.Store
	Sealer  *Sealer
	Region  string
	Account string
	Logger  *slog.Logger
	Now     func() time.Time // default time.Now
	// Audit receives every denied authorisation (default: discarded).
	Audit audit.Recorder
	// TrustedProxies are the networks whose X-Forwarded-For is believed
	// for aws:SourceIp; from anywhere else the header is ignored.
	TrustedProxies []netip.Prefix
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
	if cfg.Audit == nil {
		cfg.Audit = audit.Discard{}
	}
	return &Authority{cfg: cfg}, nil
}

// UserARN is the ARN of a user.
func (a *Authority) UserARN(name string) string {
	return api.IAMARN(a.cfg.Account, "user/"+name)
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
	p.SourceIP = a.SourceIP(r)
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
	if err := a.loadPolicies(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// LoadPrincipal loads a user as a principal without authenticating (for
// policy simulation).
func (a *Authority) LoadPrincipal(ctx context.Context, name string) (*Principal, error) {
	return a.loadPrincipal(ctx, name)
}

// loadPolicies gathers every policy in force for p: the user's inline and
// attached policies, and those of each of its groups. A stored document that
// no longer parses grants nothing and is logged.
func (a *Authority) loadPolicies(ctx context.Context, p *Principal) error {
	st := a.cfg.Store
	add := func(name, doc string) {
		d, err := policy.Parse([]byte(doc))
		if err != nil {
			a.cfg.Logger.Error("stored policy does not parse", "policy", name, "err", err)
			return
		}
		p.Policies = append(p.Policies, policy.NamedPolicy{Name: name, Doc: d})
		p.documents = append(p.documents, doc)
	}
	addAttached := func(pt store.PrincipalType, owner string) error {
		mps, err := st.ListAttachedPolicies(ctx, pt, owner)
		if err != nil {
			return fmt.Errorf("load attached policies: %w", err)
		}
		for _, mp := range mps {
			v, err := st.GetPolicyVersion(ctx, mp.Name, mp.DefaultVersionID)
			if err != nil {
				return fmt.Errorf("load policy %s: %w", mp.Name, err)
			}
			add("policy/"+mp.Name+" ("+mp.DefaultVersionID+")", v.Document)
		}
		return nil
	}
	inline, err := st.ListUserPolicies(ctx, p.User.Name)
	if err != nil {
		return fmt.Errorf("load user policies: %w", err)
	}
	for _, pol := range inline {
		add("user/"+p.User.Name+"/inline:"+pol.Name, pol.Document)
	}
	if err := addAttached(store.PrincipalUser, p.User.Name); err != nil {
		return err
	}
	groups, err := st.ListGroupsForUser(ctx, p.User.Name)
	if err != nil {
		return fmt.Errorf("load groups: %w", err)
	}
	for _, g := range groups {
		p.Groups = append(p.Groups, g.Name)
		gp, err := st.ListGroupPolicies(ctx, g.Name)
		if err != nil {
			return fmt.Errorf("load group policies: %w", err)
		}
		for _, pol := range gp {
			add("group/"+g.Name+"/inline:"+pol.Name, pol.Document)
		}
		if err := addAttached(store.PrincipalGroup, g.Name); err != nil {
			return err
		}
	}
	return nil
}

// Mentions reports whether any policy in force for p refers to the
// condition key (case-insensitively). StartSession uses it for the
// ssm:SessionDocumentAccessCheck opt-in.
func (p *Principal) Mentions(key string) bool {
	k := strings.ToLower(key)
	for _, d := range p.documents {
		if strings.Contains(strings.ToLower(d), k) {
			return true
		}
	}
	return false
}

// Authorize checks action on resource for p with extra context keys. It
// returns an *api.Error with AWS's AccessDeniedException message on denial.
func (a *Authority) Authorize(p *Principal, action, resource string, extra map[string][]string) error {
	_, err := a.Decide(p, action, resource, extra)
	return err
}

// Simulate evaluates like Decide but records nothing: it answers "what
// if", for `tether iam simulate`.
func (a *Authority) Simulate(p *Principal, action, resource string, extra map[string][]string) (policy.Result, error) {
	q := *p
	q.AccessKeyID = "" // denials of a simulation are not audit events
	return a.Decide(&q, action, resource, extra)
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
	if res.Decision != policy.Allow && p.AccessKeyID != "" {
		reason := "no identity-based policy allows the action"
		if res.Decision == policy.ExplicitDeny {
			reason = "explicit deny in " + res.Policy
			if res.Sid != "" {
				reason += " (" + res.Sid + ")"
			}
		}
		a.cfg.Audit.Record(context.Background(), audit.Event{
			Time: a.cfg.Now(), Kind: "authz", Principal: p.ARN, Action: action, Resource: resource,
			SourceIP: p.SourceIP, Outcome: audit.OutcomeDenied, Reason: reason,
		})
	}
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

// SourceIP is the caller's address for aws:SourceIp: the peer address,
// unless the peer is a trusted proxy, in which case the right-most address in
// X-Forwarded-For that is not itself a trusted proxy.
func (a *Authority) SourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if !a.trusted(host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if _, err := netip.ParseAddr(h); err != nil {
			break // garbage: stop believing the chain here
		}
		if !a.trusted(h) {
			return h
		}
		host = h
	}
	return host
}

func (a *Authority) trusted(addr string) bool {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range a.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// --- principal administration ---

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// RandomID returns prefix followed by n random upper-case base32 characters
// (the shape of IAM's ids: AIDA…, AKIA…, AGPA…, ANPA…).
func RandomID(prefix string, n int) string {
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
	u := store.User{Name: name, ID: RandomID("AIDA", 17), CreatedAt: a.cfg.Now().UTC()}
	return u, a.cfg.Store.CreateUser(ctx, u)
}

// CreateAccessKey creates an access key for user and returns its secret,
// which is shown once and stored only sealed.
func (a *Authority) CreateAccessKey(ctx context.Context, user string) (id, secret string, err error) {
	id = RandomID("AKIA", 16)
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
