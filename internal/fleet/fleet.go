// Package fleet owns managed instances: activations and registration, the
// instance inventory with its tags, deregistration, and presence (which
// agents are connected). It serves the matching SSM operations. Server-side
// only.
package fleet

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/auth"
	"github.com/tetherhq/tether/internal/bus"
	"github.com/tetherhq/tether/internal/datachannel"
	"github.com/tetherhq/tether/internal/ssmapi"
	"github.com/tetherhq/tether/internal/store"
)

// Limits, as AWS documents them for activations and tags.
const (
	MaxRegistrationLimit = 1000
	DefaultExpiry        = 24 * time.Hour
	MaxExpiry            = 30 * 24 * time.Hour
	MaxTagsPerResource   = 50
)

// MessageDisconnect is a control-subject message type that tells the gateway
// to close an agent's control channel (the instance was deregistered).
const MessageDisconnect = "tether_disconnect"

// Config configures a Service.
type Config struct {
	Store    store.Store
	Auth     *auth.Authority
	Bus      bus.Bus
	Presence *Presence
	Region   string
	Account  string
	Logger   *slog.Logger
	Now      func() time.Time
	// SSHKeyTTL is how long a pushed SSH public key is accepted (default
	// 60 s, as EC2 Instance Connect).
	SSHKeyTTL time.Duration
}

// Service implements the fleet operations.
type Service struct {
	cfg Config
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Presence == nil {
		cfg.Presence = NewPresence()
	}
	if cfg.SSHKeyTTL == 0 {
		cfg.SSHKeyTTL = 60 * time.Second
	}
	return &Service{cfg: cfg}
}

// Presence returns the presence registry.
func (s *Service) Presence() *Presence { return s.cfg.Presence }

// InstanceARN returns a managed instance's ARN.
func (s *Service) InstanceARN(id string) string {
	return api.SSMARN(s.cfg.Region, s.cfg.Account, "managed-instance/"+id)
}

// Register adds the operations to m.
func (s *Service) Register(m *ssmapi.Mux) {
	m.Handle(api.TargetSSM+"CreateActivation", ssmapi.Op(s.createActivation))
	m.Handle(api.TargetSSM+"DescribeActivations", ssmapi.Op(s.describeActivations))
	m.Handle(api.TargetSSM+"DeleteActivation", ssmapi.Op(s.deleteActivation))
	m.Handle(api.TargetSSM+"DescribeInstanceInformation", ssmapi.Op(s.describeInstanceInformation))
	m.Handle(api.TargetSSM+"GetConnectionStatus", ssmapi.Op(s.getConnectionStatus))
	m.Handle(api.TargetSSM+"DeregisterManagedInstance", ssmapi.Op(s.deregister))
	m.Handle(api.TargetSSM+"AddTagsToResource", ssmapi.Op(s.addTags))
	m.Handle(api.TargetSSM+"RemoveTagsFromResource", ssmapi.Op(s.removeTags))
	m.Handle(api.TargetSSM+"ListTagsForResource", ssmapi.Op(s.listTags))
	m.Handle(api.TargetTether+"SendSSHPublicKey", ssmapi.Op(s.sendSSHPublicKey))
}

func epoch(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1000
}

func fromEpoch(f float64) time.Time {
	return time.UnixMilli(int64(f * 1000)).UTC()
}

var instanceIDRe = regexp.MustCompile(`^mi-[0-9a-f]{17}$`)

// ValidInstanceID reports whether id has the managed-instance form.
func ValidInstanceID(id string) bool { return instanceIDRe.MatchString(id) }

// NewInstanceID returns "mi-" and 17 random lower-case hex digits.
func NewInstanceID() string {
	b := make([]byte, 9)
	rand.Read(b)
	return "mi-" + hex.EncodeToString(b)[:17]
}

func hashCode(code string) []byte {
	h := sha256.Sum256([]byte(code))
	return h[:]
}

// --- activations ---

func (s *Service) createActivation(ctx context.Context, p *auth.Principal, in *api.CreateActivationInput) (any, error) {
	if err := s.cfg.Auth.Authorize(p, "ssm:CreateActivation", api.SSMARN(s.cfg.Region, s.cfg.Account, "activation/*"), nil); err != nil {
		return nil, err
	}
	out, _, err := s.CreateActivation(ctx, *in)
	return out, err
}

// CreateActivation validates and stores an activation, returning its id and
// the one-time code.
func (s *Service) CreateActivation(ctx context.Context, in api.CreateActivationInput) (api.CreateActivationOutput, store.Activation, error) {
	now := s.cfg.Now().UTC()
	limit := in.RegistrationLimit
	if limit == 0 {
		limit = 1
	}
	if limit < 1 || limit > MaxRegistrationLimit {
		return api.CreateActivationOutput{}, store.Activation{}, api.Errorf(api.CodeValidation,
			"RegistrationLimit must be between 1 and %d", MaxRegistrationLimit)
	}
	exp := now.Add(DefaultExpiry)
	if in.ExpirationDate != 0 {
		exp = fromEpoch(in.ExpirationDate)
		if !exp.After(now) || exp.Sub(now) > MaxExpiry {
			return api.CreateActivationOutput{}, store.Activation{}, api.Errorf(api.CodeValidation,
				"ExpirationDate must be in the future and at most 30 days from now")
		}
	}
	if len(in.DefaultInstanceName) > 256 || len(in.Description) > 256 {
		return api.CreateActivationOutput{}, store.Activation{}, api.Errorf(api.CodeValidation,
			"DefaultInstanceName and Description are limited to 256 characters")
	}
	if err := validateTags(in.Tags); err != nil {
		return api.CreateActivationOutput{}, store.Activation{}, err
	}
	codeBytes := make([]byte, 15)
	rand.Read(codeBytes)
	code := base64.RawURLEncoding.EncodeToString(codeBytes)
	a := store.Activation{
		ID: newUUID(), CodeHash: hashCode(code), Description: in.Description,
		DefaultInstanceName: in.DefaultInstanceName, IamRole: in.IamRole,
		RegistrationLimit: limit, ExpirationDate: exp, CreatedDate: now,
	}
	if err := s.cfg.Store.CreateActivation(ctx, a); err != nil {
		return api.CreateActivationOutput{}, store.Activation{}, fmt.Errorf("create activation: %w", err)
	}
	if len(in.Tags) > 0 {
		if err := s.cfg.Store.AddTags(ctx, store.ResourceActivation, a.ID, toStoreTags(in.Tags)); err != nil {
			return api.CreateActivationOutput{}, store.Activation{}, fmt.Errorf("tag activation: %w", err)
		}
	}
	s.cfg.Logger.Info("activation created", "activation_id", a.ID, "limit", limit, "expires", exp)
	return api.CreateActivationOutput{ActivationID: a.ID, ActivationCode: code}, a, nil
}

func newUUID() string { return datachannel.NewUUID().String() }

func (s *Service) describeActivations(ctx context.Context, p *auth.Principal, in *api.DescribeActivationsInput) (any, error) {
	if err := s.cfg.Auth.Authorize(p, "ssm:DescribeActivations", "*", nil); err != nil {
		return nil, err
	}
	all, err := s.cfg.Store.ListActivations(ctx)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	var list []api.Activation
	for _, a := range all {
		ok := true
		for _, f := range in.Filters {
			var v string
			switch f.FilterKey {
			case "ActivationIds":
				v = a.ID
			case "DefaultInstanceName":
				v = a.DefaultInstanceName
			case "IamRole":
				v = a.IamRole
			default:
				return nil, api.Errorf(api.CodeInvalidFilter, "unknown filter key %q: use ActivationIds, DefaultInstanceName or IamRole", f.FilterKey)
			}
			if !contains(f.FilterValues, v) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		tags, err := s.cfg.Store.ListTags(ctx, store.ResourceActivation, a.ID)
		if err != nil {
			return nil, err
		}
		list = append(list, api.Activation{
			ActivationID: a.ID, Description: a.Description, DefaultInstanceName: a.DefaultInstanceName,
			IamRole: a.IamRole, RegistrationLimit: a.RegistrationLimit, RegistrationsCount: a.RegistrationsCount,
			ExpirationDate: epoch(a.ExpirationDate), Expired: now.After(a.ExpirationDate),
			CreatedDate: epoch(a.CreatedDate), Tags: fromStoreTags(tags),
		})
	}
	page, next, err := paginate(list, in.NextToken, in.MaxResults, 50, 50)
	if err != nil {
		return nil, err
	}
	if page == nil {
		page = []api.Activation{}
	}
	return api.DescribeActivationsOutput{ActivationList: page, NextToken: next}, nil
}

func (s *Service) deleteActivation(ctx context.Context, p *auth.Principal, in *api.ActivationIDInput) (any, error) {
	if err := s.cfg.Auth.Authorize(p, "ssm:DeleteActivation", api.SSMARN(s.cfg.Region, s.cfg.Account, "activation/"+in.ActivationID), nil); err != nil {
		return nil, err
	}
	err := s.cfg.Store.DeleteActivation(ctx, in.ActivationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, api.Errorf(api.CodeInvalidActivationID, "activation %q does not exist", in.ActivationID)
	}
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// RegisterResult is what a successful registration returns.
type RegisterResult struct {
	InstanceID string
}

// ErrInvalidActivation is returned for an unknown activation id or a wrong
// code; callers must not be able to tell the two apart.
var ErrInvalidActivation = errors.New("activation id or code is not valid")

// RegisterInstance exchanges an activation for a managed instance.
func (s *Service) RegisterInstance(ctx context.Context, in api.RegisterInput) (store.Instance, error) {
	if len(in.PublicKey) != 32 {
		return store.Instance{}, errors.New("public key must be a 32-byte ed25519 key")
	}
	a, err := s.cfg.Store.GetActivation(ctx, in.ActivationID)
	if errors.Is(err, store.ErrNotFound) {
		// Burn the same time as a real comparison.
		subtle.ConstantTimeCompare(hashCode(in.ActivationCode), make([]byte, sha256.Size))
		return store.Instance{}, ErrInvalidActivation
	}
	if err != nil {
		return store.Instance{}, err
	}
	if subtle.ConstantTimeCompare(hashCode(in.ActivationCode), a.CodeHash) != 1 {
		return store.Instance{}, ErrInvalidActivation
	}
	name := in.Name
	if name == "" {
		name = a.DefaultInstanceName
	}
	if len(name) > 256 {
		return store.Instance{}, errors.New("instance name is limited to 256 characters")
	}
	now := s.cfg.Now().UTC()
	inst := store.Instance{
		ID: NewInstanceID(), Name: name, ActivationID: a.ID, IamRole: a.IamRole,
		PublicKey: in.PublicKey, RegistrationDate: now, ComputerName: in.ComputerName,
	}
	if err := s.cfg.Store.RegisterInstance(ctx, a.ID, inst, now); err != nil {
		return store.Instance{}, err
	}
	s.cfg.Logger.Info("instance registered", "instance_id", inst.ID, "activation_id", a.ID)
	return inst, nil
}

// --- instances ---

// PingStatus returns Online, ConnectionLost or Inactive for an instance.
func (s *Service) PingStatus(inst store.Instance) string {
	if s.cfg.Presence.Online(inst.ID) {
		return "Online"
	}
	if inst.LastPingAt.IsZero() {
		return "Inactive"
	}
	return "ConnectionLost"
}

var platformTypes = map[string]bool{"Linux": true, "MacOS": true, "Windows": true}

func (s *Service) describeInstanceInformation(ctx context.Context, p *auth.Principal, in *api.DescribeInstanceInformationInput) (any, error) {
	if err := s.cfg.Auth.Authorize(p, "ssm:DescribeInstanceInformation", "*", nil); err != nil {
		return nil, err
	}
	if len(in.Filters) > 0 && len(in.InstanceInformationFilterList) > 0 {
		return nil, api.Errorf(api.CodeValidation, "use either Filters or InstanceInformationFilterList, not both")
	}
	type filter struct {
		key    string
		values []string
	}
	var filters []filter
	for _, f := range in.Filters {
		filters = append(filters, filter{f.Key, f.Values})
	}
	for _, f := range in.InstanceInformationFilterList {
		if strings.HasPrefix(f.Key, "tag") {
			return nil, api.Errorf(api.CodeInvalidFilterKey, "tag filters need the Filters parameter, not InstanceInformationFilterList")
		}
		filters = append(filters, filter{f.Key, f.ValueSet})
	}
	for _, f := range filters {
		if len(f.values) == 0 {
			return nil, api.Errorf(api.CodeInvalidFilterValue, "filter %q has no values", f.key)
		}
		switch {
		case f.key == "InstanceIds":
			for _, v := range f.values {
				if !ValidInstanceID(v) {
					return nil, api.Errorf(api.CodeInvalidInstanceID, "instance id %q is not a managed instance id (mi- and 17 hex digits)", v)
				}
			}
		case f.key == "PingStatus":
			for _, v := range f.values {
				if v != "Online" && v != "ConnectionLost" && v != "Inactive" {
					return nil, api.Errorf(api.CodeInvalidFilterValue, "PingStatus must be Online, ConnectionLost or Inactive, not %q", v)
				}
			}
		case f.key == "PlatformTypes":
			for _, v := range f.values {
				if !platformTypes[v] {
					return nil, api.Errorf(api.CodeInvalidFilterValue, "PlatformTypes must be Linux, MacOS or Windows, not %q", v)
				}
			}
		case f.key == "AgentVersion", f.key == "ResourceType", f.key == "ActivationIds", f.key == "IamRole",
			f.key == "AssociationStatus", f.key == "tag-key", strings.HasPrefix(f.key, "tag:") && len(f.key) > 4:
		default:
			return nil, api.Errorf(api.CodeInvalidFilterKey, "unknown filter key %q", f.key)
		}
	}
	maxResults := in.MaxResults
	if maxResults != 0 && (maxResults < 5 || maxResults > 50) {
		return nil, api.Errorf(api.CodeValidation, "MaxResults must be between 5 and 50")
	}
	all, err := s.cfg.Store.ListInstances(ctx)
	if err != nil {
		return nil, err
	}
	var list []api.InstanceInformation
	for _, inst := range all {
		info := s.info(inst)
		var tags map[string]string
		match := true
		for _, f := range filters {
			var ok bool
			switch {
			case f.key == "InstanceIds":
				ok = contains(f.values, inst.ID)
			case f.key == "PingStatus":
				ok = contains(f.values, info.PingStatus)
			case f.key == "PlatformTypes":
				ok = contains(f.values, info.PlatformType)
			case f.key == "AgentVersion":
				ok = contains(f.values, info.AgentVersion)
			case f.key == "ResourceType":
				ok = contains(f.values, info.ResourceType)
			case f.key == "ActivationIds":
				ok = contains(f.values, inst.ActivationID)
			case f.key == "IamRole":
				ok = contains(f.values, inst.IamRole)
			case f.key == "AssociationStatus":
				ok = false // Tether runs no associations
			default: // tag filters
				if tags == nil {
					tl, err := s.cfg.Store.ListTags(ctx, store.ResourceManagedInstance, inst.ID)
					if err != nil {
						return nil, err
					}
					tags = map[string]string{}
					for _, t := range tl {
						tags[t.Key] = t.Value
					}
				}
				if f.key == "tag-key" {
					for _, v := range f.values {
						if _, has := tags[v]; has {
							ok = true
						}
					}
				} else {
					v, has := tags[strings.TrimPrefix(f.key, "tag:")]
					ok = has && contains(f.values, v)
				}
			}
			if !ok {
				match = false
				break
			}
		}
		if match {
			list = append(list, info)
		}
	}
	page, next, err := paginate(list, in.NextToken, maxResults, 50, 50)
	if err != nil {
		return nil, err
	}
	if page == nil {
		page = []api.InstanceInformation{}
	}
	return api.DescribeInstanceInformationOutput{InstanceInformationList: page, NextToken: next}, nil
}

func (s *Service) info(inst store.Instance) api.InstanceInformation {
	return api.InstanceInformation{
		InstanceID: inst.ID, PingStatus: s.PingStatus(inst), LastPingDateTime: epoch(inst.LastPingAt),
		AgentVersion: inst.AgentVersion, IsLatestVersion: true, PlatformType: inst.PlatformType,
		PlatformName: inst.PlatformName, PlatformVersion: inst.PlatformVersion, ActivationID: inst.ActivationID,
		IamRole: inst.IamRole, RegistrationDate: epoch(inst.RegistrationDate), ResourceType: "ManagedInstance",
		Name: inst.Name, IPAddress: inst.IPAddress, ComputerName: inst.ComputerName,
		SourceID: inst.ID, SourceType: "AWS::SSM::ManagedInstance",
	}
}

func (s *Service) getConnectionStatus(ctx context.Context, p *auth.Principal, in *api.GetConnectionStatusInput) (any, error) {
	if in.Target == "" {
		return nil, api.Errorf(api.CodeValidation, "Target is required")
	}
	if err := s.cfg.Auth.Authorize(p, "ssm:GetConnectionStatus", s.InstanceARN(in.Target), nil); err != nil {
		return nil, err
	}
	status := "notconnected"
	if _, err := s.cfg.Store.GetInstance(ctx, in.Target); err == nil && s.cfg.Presence.Online(in.Target) {
		status = "connected"
	}
	return api.GetConnectionStatusOutput{Target: in.Target, Status: status}, nil
}

func (s *Service) deregister(ctx context.Context, p *auth.Principal, in *api.InstanceIDInput) (any, error) {
	if !ValidInstanceID(in.InstanceID) {
		return nil, api.Errorf(api.CodeInvalidInstanceID, "instance id %q is not a managed instance id", in.InstanceID)
	}
	if err := s.cfg.Auth.Authorize(p, "ssm:DeregisterManagedInstance", s.InstanceARN(in.InstanceID), nil); err != nil {
		return nil, err
	}
	err := s.cfg.Store.DeleteInstance(ctx, in.InstanceID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, api.Errorf(api.CodeInvalidInstanceID, "instance %s is not registered", in.InstanceID)
	}
	if err != nil {
		return nil, err
	}
	msg := datachannel.Message{MessageType: MessageDisconnect, Payload: []byte("instance deregistered")}
	if b, err := msg.MarshalBinary(); err == nil {
		s.cfg.Bus.Publish(ctx, bus.InstanceControl(in.InstanceID), b)
	}
	s.cfg.Logger.Info("instance deregistered", "instance_id", in.InstanceID, "principal", p.ARN)
	return struct{}{}, nil
}

// --- tags ---

func validateTags(tags []api.Tag) error {
	if len(tags) > MaxTagsPerResource {
		return api.Errorf(api.CodeTooManyTagsError, "at most %d tags per resource", MaxTagsPerResource)
	}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 {
			return api.Errorf(api.CodeValidation, "tag keys must be 1-128 characters and values at most 256 (key %q)", t.Key)
		}
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return api.Errorf(api.CodeValidation, "tag keys may not start with aws: (key %q)", t.Key)
		}
	}
	return nil
}

func toStoreTags(in []api.Tag) []store.Tag {
	out := make([]store.Tag, len(in))
	for i, t := range in {
		out[i] = store.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

func fromStoreTags(in []store.Tag) []api.Tag {
	out := make([]api.Tag, len(in))
	for i, t := range in {
		out[i] = api.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

// resolveTagged checks that the resource exists and returns its store type
// and the ARN used for authorisation.
func (s *Service) resolveTagged(ctx context.Context, in *api.TagsInput) (store.ResourceType, string, error) {
	switch in.ResourceType {
	case "ManagedInstance":
		if _, err := s.cfg.Store.GetInstance(ctx, in.ResourceID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return "", "", api.Errorf(api.CodeInvalidResourceID, "managed instance %q does not exist", in.ResourceID)
			}
			return "", "", err
		}
		return store.ResourceManagedInstance, s.InstanceARN(in.ResourceID), nil
	case "":
		return "", "", api.Errorf(api.CodeValidation, "ResourceType is required")
	default:
		return "", "", api.Errorf(api.CodeInvalidResourceType, "resource type %q is not supported: use ManagedInstance", in.ResourceType)
	}
}

func (s *Service) addTags(ctx context.Context, p *auth.Principal, in *api.TagsInput) (any, error) {
	rt, arn, err := s.resolveTagged(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Auth.Authorize(p, "ssm:AddTagsToResource", arn, nil); err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, api.Errorf(api.CodeValidation, "Tags must name at least one tag")
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	existing, err := s.cfg.Store.ListTags(ctx, rt, in.ResourceID)
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for _, t := range existing {
		keys[t.Key] = true
	}
	for _, t := range in.Tags {
		keys[t.Key] = true
	}
	if len(keys) > MaxTagsPerResource {
		return nil, api.Errorf(api.CodeTooManyTagsError, "at most %d tags per resource", MaxTagsPerResource)
	}
	return struct{}{}, s.cfg.Store.AddTags(ctx, rt, in.ResourceID, toStoreTags(in.Tags))
}

func (s *Service) removeTags(ctx context.Context, p *auth.Principal, in *api.TagsInput) (any, error) {
	rt, arn, err := s.resolveTagged(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Auth.Authorize(p, "ssm:RemoveTagsFromResource", arn, nil); err != nil {
		return nil, err
	}
	if len(in.TagKeys) == 0 {
		return nil, api.Errorf(api.CodeValidation, "TagKeys must name at least one key")
	}
	return struct{}{}, s.cfg.Store.RemoveTags(ctx, rt, in.ResourceID, in.TagKeys)
}

func (s *Service) listTags(ctx context.Context, p *auth.Principal, in *api.TagsInput) (any, error) {
	rt, arn, err := s.resolveTagged(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Auth.Authorize(p, "ssm:ListTagsForResource", arn, nil); err != nil {
		return nil, err
	}
	tags, err := s.cfg.Store.ListTags(ctx, rt, in.ResourceID)
	if err != nil {
		return nil, err
	}
	return api.ListTagsOutput{TagList: fromStoreTags(tags)}, nil
}

// InstanceTags returns an instance's tags as a map.
func (s *Service) InstanceTags(ctx context.Context, id string) (map[string]string, error) {
	tl, err := s.cfg.Store.ListTags(ctx, store.ResourceManagedInstance, id)
	if errors.Is(err, store.ErrNotFound) {
		return map[string]string{}, nil // no such instance: no tags
	}
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(tl))
	for _, t := range tl {
		m[t.Key] = t.Value
	}
	return m, nil
}

// --- helpers ---

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// paginate returns one page of list starting at the offset encoded in token.
func paginate[T any](list []T, token string, max, def, limit int) ([]T, string, error) {
	if max <= 0 {
		max = def
	}
	if max > limit {
		max = limit
	}
	start := 0
	if token != "" {
		n, err := DecodeToken(token)
		if err != nil || n > len(list) {
			return nil, "", api.Errorf(api.CodeInvalidNextToken, "NextToken is not valid")
		}
		start = n
	}
	end := min(start+max, len(list))
	next := ""
	if end < len(list) {
		next = EncodeToken(end)
	}
	return list[start:end], next, nil
}

// EncodeToken makes an opaque pagination token from an offset.
func EncodeToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(offset)))
}

// DecodeToken reverses EncodeToken.
func DecodeToken(tok string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !strings.HasPrefix(string(b), "o:") {
		return 0, errors.New("bad token")
	}
	n, err := strconv.Atoi(string(b[2:]))
	if err != nil || n < 0 {
		return 0, errors.New("bad token")
	}
	return n, nil
}

// Paginate is paginate for other packages.
func Paginate[T any](list []T, token string, max, def, limit int) ([]T, string, error) {
	return paginate(list, token, max, def, limit)
}

// --- pushed SSH keys ---

// MessageSSHPublicKey is the control message carrying a pushed key.
const MessageSSHPublicKey = "tether_ssh_public_key"

// SSHPublicKey is the payload of MessageSSHPublicKey.
type SSHPublicKey struct {
	OSUser    string    `json:"OSUser"`
	PublicKey string    `json:"PublicKey"`
	ExpiresAt time.Time `json:"ExpiresAt"`
	RequestID string    `json:"RequestId"`
	Principal string    `json:"Principal"`
}

type sendSSHKeyInput struct {
	InstanceID     string `json:"InstanceId"`
	InstanceOSUser string `json:"InstanceOSUser"`
	SSHPublicKey   string `json:"SSHPublicKey"`
}

var osUserRe = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`)

// validSSHKey accepts one line "<type> <base64> [comment]" of a known type.
func validSSHKey(k string) bool {
	k = strings.TrimSpace(k)
	if strings.ContainsAny(k, "\r\n") || len(k) > 8192 {
		return false
	}
	f := strings.Fields(k)
	if len(f) < 2 {
		return false
	}
	switch f[0] {
	case "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
		"sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com":
	default:
		return false
	}
	_, err := base64.StdEncoding.DecodeString(f[1])
	return err == nil
}

func (s *Service) sendSSHPublicKey(ctx context.Context, p *auth.Principal, in *sendSSHKeyInput) (any, error) {
	if !ValidInstanceID(in.InstanceID) {
		return nil, api.Errorf(api.CodeInvalidInstanceID, "instance id %q is not a managed instance id", in.InstanceID)
	}
	tags, err := s.InstanceTags(ctx, in.InstanceID)
	if err != nil {
		return nil, err
	}
	tagCtx := map[string][]string{"tether:osuser": {in.InstanceOSUser}}
	for k, v := range tags {
		tagCtx["ssm:resourceTag/"+k] = []string{v}
	}
	if err := s.cfg.Auth.Authorize(p, "tether:SendSSHPublicKey", s.InstanceARN(in.InstanceID), tagCtx); err != nil {
		return nil, err
	}
	if !osUserRe.MatchString(in.InstanceOSUser) {
		return nil, api.Errorf(api.CodeValidation, "InstanceOSUser %q is not a valid user name", in.InstanceOSUser)
	}
	if !validSSHKey(in.SSHPublicKey) {
		return nil, api.Errorf(api.CodeValidation, "SSHPublicKey must be one OpenSSH public key line (ssh-ed25519, ssh-rsa or ecdsa)")
	}
	if _, err := s.cfg.Store.GetInstance(ctx, in.InstanceID); err != nil || !s.cfg.Presence.Online(in.InstanceID) {
		return nil, api.Errorf(api.CodeTargetNotConnected, "%s is not connected.", in.InstanceID)
	}
	msg := SSHPublicKey{OSUser: in.InstanceOSUser, PublicKey: strings.TrimSpace(in.SSHPublicKey),
		ExpiresAt: s.cfg.Now().Add(s.cfg.SSHKeyTTL).UTC(), RequestID: newUUID(), Principal: p.ARN}
	payload, _ := json.Marshal(msg)
	b, err := (&datachannel.Message{MessageType: MessageSSHPublicKey, Payload: payload}).MarshalBinary()
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Bus.Publish(ctx, bus.InstanceControl(in.InstanceID), b); err != nil {
		return nil, err
	}
	s.cfg.Logger.Info("ssh public key pushed", "instance_id", in.InstanceID, "os_user", in.InstanceOSUser, "principal", p.ARN, "expires", msg.ExpiresAt)
	return map[string]any{"RequestId": msg.RequestID, "Success": true}, nil
}
