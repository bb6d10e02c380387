// Package iam serves Tether's identity administration under
// X-Amz-Target: Tether.<Op>, with IAM's names, shapes and error codes:
// users, access keys (at most two per user), inline and managed policies
// (with versions), groups, user tags, GetCallerIdentity and
// SimulatePrincipalPolicy. Every operation is itself authorised by an iam:*
// action on the target's ARN. Server-side only.
package iam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/auth"
	"github.com/tetherhq/tether/internal/policy"
	"github.com/tetherhq/tether/internal/ssmapi"
	"github.com/tetherhq/tether/internal/store"
)

// MaxAccessKeysPerUser is IAM's quota.
const MaxAccessKeysPerUser = 2

// IAM error codes.
const (
	CodeNoSuchEntity       = "NoSuchEntity"
	CodeEntityExists       = "EntityAlreadyExists"
	CodeLimitExceeded      = "LimitExceeded"
	CodeMalformedPolicy    = "MalformedPolicyDocument"
	CodeDeleteConflict     = "DeleteConflict"
	CodeValidationError    = "ValidationError"
	CodeInvalidInput       = "InvalidInput"
	statusNotFound         = http.StatusNotFound
	statusConflict         = http.StatusConflict
	maxInlinePoliciesBytes = policy.MaxDocumentSize
)

// Config configures a Service.
type Config struct {
	Store   store.Store
	Auth    *auth.Authority
	Account string
	Logger  *slog.Logger
	Now     func() time.Time
}

// Service implements the operations.
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
	return &Service{cfg: cfg}
}

// Register adds the operations to m.
func (s *Service) Register(m *ssmapi.Mux) {
	h := func(op string, f ssmapi.Handler) { m.Handle(api.TargetTether+op, f) }
	h("GetCallerIdentity", ssmapi.Op(s.getCallerIdentity))
	h("CreateUser", ssmapi.Op(s.createUser))
	h("GetUser", ssmapi.Op(s.getUser))
	h("DeleteUser", ssmapi.Op(s.deleteUser))
	h("ListUsers", ssmapi.Op(s.listUsers))
	h("CreateAccessKey", ssmapi.Op(s.createAccessKey))
	h("ListAccessKeys", ssmapi.Op(s.listAccessKeys))
	h("UpdateAccessKey", ssmapi.Op(s.updateAccessKey))
	h("DeleteAccessKey", ssmapi.Op(s.deleteAccessKey))
	h("PutUserPolicy", ssmapi.Op(s.putUserPolicy))
	h("GetUserPolicy", ssmapi.Op(s.getUserPolicy))
	h("DeleteUserPolicy", ssmapi.Op(s.deleteUserPolicy))
	h("ListUserPolicies", ssmapi.Op(s.listUserPolicies))
	h("CreatePolicy", ssmapi.Op(s.createPolicy))
	h("GetPolicy", ssmapi.Op(s.getPolicy))
	h("DeletePolicy", ssmapi.Op(s.deletePolicy))
	h("ListPolicies", ssmapi.Op(s.listPolicies))
	h("CreatePolicyVersion", ssmapi.Op(s.createPolicyVersion))
	h("GetPolicyVersion", ssmapi.Op(s.getPolicyVersion))
	h("ListPolicyVersions", ssmapi.Op(s.listPolicyVersions))
	h("SetDefaultPolicyVersion", ssmapi.Op(s.setDefaultPolicyVersion))
	h("DeletePolicyVersion", ssmapi.Op(s.deletePolicyVersion))
	h("AttachUserPolicy", ssmapi.Op(s.attach(store.PrincipalUser, true)))
	h("DetachUserPolicy", ssmapi.Op(s.attach(store.PrincipalUser, false)))
	h("ListAttachedUserPolicies", ssmapi.Op(s.listAttached(store.PrincipalUser)))
	h("CreateGroup", ssmapi.Op(s.createGroup))
	h("GetGroup", ssmapi.Op(s.getGroup))
	h("DeleteGroup", ssmapi.Op(s.deleteGroup))
	h("ListGroups", ssmapi.Op(s.listGroups))
	h("AddUserToGroup", ssmapi.Op(s.addUserToGroup))
	h("RemoveUserFromGroup", ssmapi.Op(s.removeUserFromGroup))
	h("ListGroupsForUser", ssmapi.Op(s.listGroupsForUser))
	h("PutGroupPolicy", ssmapi.Op(s.putGroupPolicy))
	h("GetGroupPolicy", ssmapi.Op(s.getGroupPolicy))
	h("DeleteGroupPolicy", ssmapi.Op(s.deleteGroupPolicy))
	h("ListGroupPolicies", ssmapi.Op(s.listGroupPolicies))
	h("AttachGroupPolicy", ssmapi.Op(s.attach(store.PrincipalGroup, true)))
	h("DetachGroupPolicy", ssmapi.Op(s.attach(store.PrincipalGroup, false)))
	h("ListAttachedGroupPolicies", ssmapi.Op(s.listAttached(store.PrincipalGroup)))
	h("TagUser", ssmapi.Op(s.tagUser))
	h("UntagUser", ssmapi.Op(s.untagUser))
	h("ListUserTags", ssmapi.Op(s.listUserTags))
	h("TagGroup", ssmapi.Op(s.tagGroup))
	h("UntagGroup", ssmapi.Op(s.untagGroup))
	h("ListGroupTags", ssmapi.Op(s.listGroupTags))
	h("SimulatePrincipalPolicy", ssmapi.Op(s.simulate))
}

// --- shapes ---

// Tag is an IAM tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// User is IAM's user shape.
type User struct {
	UserName   string  `json:"UserName"`
	UserID     string  `json:"UserId"`
	Arn        string  `json:"Arn"`
	Path       string  `json:"Path"`
	CreateDate float64 `json:"CreateDate"`
	Tags       []Tag   `json:"Tags,omitempty"`
}

// Group is IAM's group shape.
type Group struct {
	GroupName  string  `json:"GroupName"`
	GroupID    string  `json:"GroupId"`
	Arn        string  `json:"Arn"`
	Path       string  `json:"Path"`
	CreateDate float64 `json:"CreateDate"`
}

// Policy is IAM's managed policy shape.
type Policy struct {
	PolicyName       string  `json:"PolicyName"`
	PolicyID         string  `json:"PolicyId"`
	Arn              string  `json:"Arn"`
	Path             string  `json:"Path"`
	DefaultVersionID string  `json:"DefaultVersionId"`
	AttachmentCount  int     `json:"AttachmentCount"`
	Description      string  `json:"Description,omitempty"`
	CreateDate       float64 `json:"CreateDate"`
	UpdateDate       float64 `json:"UpdateDate"`
}

// PolicyVersion is IAM's policy version shape.
type PolicyVersion struct {
	Document         string  `json:"Document,omitempty"`
	VersionID        string  `json:"VersionId"`
	IsDefaultVersion bool    `json:"IsDefaultVersion"`
	CreateDate       float64 `json:"CreateDate"`
}

// AccessKey is CreateAccessKey's result (with the secret, shown once).
type AccessKey struct {
	UserName        string  `json:"UserName"`
	AccessKeyID     string  `json:"AccessKeyId"`
	Status          string  `json:"Status"`
	SecretAccessKey string  `json:"SecretAccessKey,omitempty"`
	CreateDate      float64 `json:"CreateDate"`
	LastUsedDate    float64 `json:"LastUsedDate,omitempty"`
}

// AttachedPolicy names an attached managed policy.
type AttachedPolicy struct {
	PolicyName string `json:"PolicyName"`
	PolicyArn  string `json:"PolicyArn"`
}

// --- helpers ---

func epoch(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1000
}

var nameRe = regexp.MustCompile(`^[\w+=,.@-]+$`)

func validName(kind, name string, max int) error {
	if name == "" || len(name) > max || !nameRe.MatchString(name) {
		return &api.Error{Status: http.StatusBadRequest, Code: CodeValidationError,
			Message: fmt.Sprintf("%s %q must be 1-%d characters of letters, digits and +=,.@_-", kind, name, max)}
	}
	return nil
}

func noSuch(kind, name string) error {
	return &api.Error{Status: statusNotFound, Code: CodeNoSuchEntity, Message: fmt.Sprintf("The %s with name %s cannot be found.", kind, name)}
}

func exists(kind, name string) error {
	return &api.Error{Status: statusConflict, Code: CodeEntityExists, Message: fmt.Sprintf("%s with name %s already exists.", kind, name)}
}

// mapErr turns store sentinels into IAM errors about kind/name.
func mapErr(err error, kind, name string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return noSuch(kind, name)
	case errors.Is(err, store.ErrAlreadyExists):
		return exists(kind, name)
	case errors.Is(err, store.ErrConflict):
		return &api.Error{Status: statusConflict, Code: CodeDeleteConflict, Message: fmt.Sprintf("Cannot delete %s %s: it is still in use (attached, or the default version).", kind, name)}
	case errors.Is(err, store.ErrLimitExceeded):
		return &api.Error{Status: statusConflict, Code: CodeLimitExceeded, Message: fmt.Sprintf("A managed policy can have up to %d versions. Before you create a new version, you must delete an existing version.", store.MaxPolicyVersions)}
	}
	return err
}

func (s *Service) userARN(name string) string {
	return api.IAMARN(s.cfg.Account, "user/"+name)
}
func (s *Service) groupARN(name string) string {
	return api.IAMARN(s.cfg.Account, "group/"+name)
}
func (s *Service) policyARN(name string) string {
	return api.IAMARN(s.cfg.Account, "policy/"+name)
}

// policyName extracts a managed policy's name from its ARN in this account.
func (s *Service) policyName(arn string) (string, error) {
	name, ok := strings.CutPrefix(arn, s.policyARN(""))
	if !ok || name == "" {
		return "", &api.Error{Status: http.StatusBadRequest, Code: CodeInvalidInput, Message: fmt.Sprintf("ARN %s is not a policy ARN of account %s.", arn, s.cfg.Account)}
	}
	return name, nil
}

// validateDocument parses a policy document and reports mistakes the way IAM
// does, with the position.
func validateDocument(doc string) error {
	if doc == "" {
		return &api.Error{Status: http.StatusBadRequest, Code: CodeValidationError, Message: "PolicyDocument is required"}
	}
	if _, err := policy.Parse([]byte(doc)); err != nil {
		return &api.Error{Status: http.StatusBadRequest, Code: CodeMalformedPolicy, Message: err.Error()}
	}
	return nil
}

func (s *Service) authorize(p *auth.Principal, action, resource string) error {
	return s.cfg.Auth.Authorize(p, action, resource, nil)
}

func (s *Service) toUser(ctx context.Context, u store.User) (User, error) {
	out := User{UserName: u.Name, UserID: u.ID, Arn: s.userARN(u.Name), Path: "/", CreateDate: epoch(u.CreatedAt)}
	tags, err := s.cfg.Store.ListTags(ctx, store.ResourceUser, u.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return out, err
	}
	for _, t := range tags {
		out.Tags = append(out.Tags, Tag{Key: t.Key, Value: t.Value})
	}
	return out, nil
}

// --- caller identity ---

func (s *Service) getCallerIdentity(ctx context.Context, p *auth.Principal, _ *struct{}) (any, error) {
	return api.CallerIdentity{UserID: p.User.ID, Account: s.cfg.Account, Arn: p.ARN}, nil
}

// --- users ---

type userInput struct {
	UserName string `json:"UserName"`
	Tags     []Tag  `json:"Tags"`
}

func (s *Service) createUser(ctx context.Context, p *auth.Principal, in *userInput) (any, error) {
	if err := validName("UserName", in.UserName, 64); err != nil {
		return nil, err
	}
	if err := s.authorize(p, "iam:CreateUser", s.userARN(in.UserName)); err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	u, err := s.cfg.Auth.CreateUser(ctx, in.UserName)
	if err != nil {
		return nil, mapErr(err, "user", in.UserName)
	}
	if len(in.Tags) > 0 {
		if err := s.cfg.Store.AddTags(ctx, store.ResourceUser, u.Name, toStoreTags(in.Tags)); err != nil {
			return nil, err
		}
	}
	s.cfg.Logger.Info("user created", "user", u.Name, "principal", p.ARN)
	out, err := s.toUser(ctx, u)
	return map[string]any{"User": out}, err
}

func (s *Service) getUser(ctx context.Context, p *auth.Principal, in *userInput) (any, error) {
	name := in.UserName
	if name == "" {
		name = p.User.Name
	}
	if err := s.authorize(p, "iam:GetUser", s.userARN(name)); err != nil {
		return nil, err
	}
	u, err := s.cfg.Store.GetUser(ctx, name)
	if err != nil {
		return nil, mapErr(err, "user", name)
	}
	out, err := s.toUser(ctx, u)
	return map[string]any{"User": out}, err
}

func (s *Service) deleteUser(ctx context.Context, p *auth.Principal, in *userInput) (any, error) {
	if err := s.authorize(p, "iam:DeleteUser", s.userARN(in.UserName)); err != nil {
		return nil, err
	}
	// Cascades to keys: they stop authenticating on the next request.
	if err := s.cfg.Store.DeleteUser(ctx, in.UserName); err != nil {
		return nil, mapErr(err, "user", in.UserName)
	}
	s.cfg.Logger.Info("user deleted", "user", in.UserName, "principal", p.ARN)
	return struct{}{}, nil
}

func (s *Service) listUsers(ctx context.Context, p *auth.Principal, _ *struct{}) (any, error) {
	if err := s.authorize(p, "iam:ListUsers", s.userARN("*")); err != nil {
		return nil, err
	}
	us, err := s.cfg.Store.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := []User{}
	for _, u := range us {
		x, err := s.toUser(ctx, u)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return map[string]any{"Users": out, "IsTruncated": false}, nil
}

// --- access keys ---

type keyInput struct {
	UserName    string `json:"UserName"`
	AccessKeyID string `json:"AccessKeyId"`
	Status      string `json:"Status"`
}

func (s *Service) keyOwner(p *auth.Principal, in *keyInput) string {
	if in.UserName == "" {
		return p.User.Name
	}
	return in.UserName
}

func (s *Service) createAccessKey(ctx context.Context, p *auth.Principal, in *keyInput) (any, error) {
	user := s.keyOwner(p, in)
	if err := s.authorize(p, "iam:CreateAccessKey", s.userARN(user)); err != nil {
		return nil, err
	}
	keys, err := s.cfg.Store.ListAccessKeys(ctx, user)
	if err != nil {
		return nil, mapErr(err, "user", user)
	}
	if len(keys) >= MaxAccessKeysPerUser {
		return nil, &api.Error{Status: statusConflict, Code: CodeLimitExceeded, Message: fmt.Sprintf("Cannot exceed quota for AccessKeysPerUser: %d", MaxAccessKeysPerUser)}
	}
	id, secret, err := s.cfg.Auth.CreateAccessKey(ctx, user)
	if err != nil {
		return nil, mapErr(err, "user", user)
	}
	s.cfg.Logger.Info("access key created", "user", user, "access_key_id", id, "principal", p.ARN)
	return map[string]any{"AccessKey": AccessKey{UserName: user, AccessKeyID: id, Status: string(store.KeyActive), SecretAccessKey: secret, CreateDate: epoch(s.cfg.Now())}}, nil
}

func (s *Service) listAccessKeys(ctx context.Context, p *auth.Principal, in *keyInput) (any, error) {
	user := s.keyOwner(p, in)
	if err := s.authorize(p, "iam:ListAccessKeys", s.userARN(user)); err != nil {
		return nil, err
	}
	keys, err := s.cfg.Store.ListAccessKeys(ctx, user)
	if err != nil {
		return nil, mapErr(err, "user", user)
	}
	out := []AccessKey{}
	for _, k := range keys {
		out = append(out, AccessKey{UserName: k.UserName, AccessKeyID: k.ID, Status: string(k.Status), CreateDate: epoch(k.CreatedAt), LastUsedDate: epoch(k.LastUsedAt)})
	}
	return map[string]any{"AccessKeyMetadata": out, "IsTruncated": false}, nil
}

// ownKey loads a key and checks it belongs to the user named in the request.
func (s *Service) ownKey(ctx context.Context, user, id string) error {
	k, err := s.cfg.Store.GetAccessKey(ctx, id)
	if err != nil || k.UserName != user {
		return &api.Error{Status: statusNotFound, Code: CodeNoSuchEntity, Message: fmt.Sprintf("The Access Key with id %s cannot be found.", id)}
	}
	return nil
}

func (s *Service) updateAccessKey(ctx context.Context, p *auth.Principal, in *keyInput) (any, error) {
	user := s.keyOwner(p, in)
	if err := s.authorize(p, "iam:UpdateAccessKey", s.userARN(user)); err != nil {
		return nil, err
	}
	if in.Status != string(store.KeyActive) && in.Status != string(store.KeyInactive) {
		return nil, &api.Error{Status: http.StatusBadRequest, Code: CodeValidationError, Message: "Status must be Active or Inactive"}
	}
	if err := s.ownKey(ctx, user, in.AccessKeyID); err != nil {
		return nil, err
	}
	return struct{}{}, s.cfg.Store.SetAccessKeyStatus(ctx, in.AccessKeyID, store.AccessKeyStatus(in.Status))
}

func (s *Service) deleteAccessKey(ctx context.Context, p *auth.Principal, in *keyInput) (any, error) {
	user := s.keyOwner(p, in)
	if err := s.authorize(p, "iam:DeleteAccessKey", s.userARN(user)); err != nil {
		return nil, err
	}
	if err := s.ownKey(ctx, user, in.AccessKeyID); err != nil {
		return nil, err
	}
	return struct{}{}, s.cfg.Store.DeleteAccessKey(ctx, in.AccessKeyID)
}

// --- inline policies (users and groups) ---

type inlineInput struct {
	UserName       string `json:"UserName"`
	GroupName      string `json:"GroupName"`
	PolicyName     string `json:"PolicyName"`
	PolicyDocument string `json:"PolicyDocument"`
}

func (s *Service) putUserPolicy(ctx context.Context, p *auth.Principal, in *inlineInput) (any, error) {
	if err := s.authorize(p, "iam:PutUserPolicy", s.userARN(in.UserName)); err != nil {
		return nil, err
	}
	if err := validName("PolicyName", in.PolicyName, 128); err != nil {
		return nil, err
	}
	if err := validateDocument(in.PolicyDocument); err != nil {
		return nil, err
	}
	err := s.cfg.Store.PutUserPolicy(ctx, in.UserName, store.Policy{Name: in.PolicyName, Document: in.PolicyDocument})
	return struct{}{}, mapErr(err, "user", in.UserName)
}

func (s *Service) getUserPolicy(ctx context.Context, p *auth.Principal, in *inlineInput) (any, error) {
	if err := s.authorize(p, "iam:GetUserPolicy", s.userARN(in.UserName)); err != nil {
		return nil, err
	}
	pols, err := s.cfg.Store.ListUserPolicies(ctx, in.UserName)
	if err != nil {
		return nil, mapErr(err, "user", in.UserName)
	}
	for _, pol := range pols {
		if pol.Name == in.PolicyName {
			return map[string]any{"UserName": in.UserName, "PolicyName": pol.Name, "PolicyDocument": pol.Document}, nil
		}
	}
	return nil, noSuch("user policy", in.PolicyName)
}

func (s *Service) deleteUserPolicy(ctx context.Context, p *auth.Principal, in *inlineInput) (any, error) {
	if err := s.authorize(p, "iam:DeleteUserPolicy", s.userARN(in.UserName)); err != nil {
		return nil, err
	}
	return struct{}{}, mapErr(s.cfg.Store.DeleteUserPolicy(ctx, in.UserName, in.PolicyName), "user policy", in.PolicyName)
}

func (s *Service) listUserPolicies(ctx context.Context, p *auth.Principal, in *inlineInput) (any, error) {
	if err := s.authorize(p, "iam:ListUserPolicies", s.userARN(in.UserName)); err != nil {
		return nil, err
	}
	pols, err := s.cfg.Store.ListUserPolicies(ctx, in.UserName)
	if err != nil {
		return nil, mapErr(err, "user", in.UserName)
	}
	names := []string{}
	for _, pol := range pols {
		names = append(names, pol.Name)
	}
	return map[string]any{"PolicyNames": names, "IsTruncated": false}, nil
}

func (s *Service) putGroupPolicy(ctx context.Context, p *auth.Principal, in *inlineInput) (any, error) {
	if err := s.authorize(p, "iam:PutGroupPolicy", s.groupARN(in.GroupName)); err != nil {
		return nil, err
	}
	if err := validName("PolicyName", in.PolicyName, 128); err != nil {
		return nil, err
	}
	if err := validateDocument(in.PolicyDocument); err != nil {
		return nil, err
	}
	err := s.cfg.Store.PutGroupPolicy(ctx, in.GroupName, store.Policy{Name: in.PolicyName, Document: in.PolicyDocument})
	return struct{}{}, mapErr(err, "group", in.GroupName)
}

func (s *Service) getGroupPolicy(ctx context.Context, p *auth.Principal, in *inlineInput) (any, error) {
	if err := s.authorize(p, "iam:GetGroupPolicy", s.groupARN(in.GroupName)); err != nil {
		return nil, err
	}
	pols, err := s.cfg.Store.ListGroupPolicies(ctx, in.GroupName)
	if err != nil {
		return nil, mapErr(err, "group", in.GroupName)
	}
	for _, pol := range pols {
		if pol.Name == in.PolicyName {
			return map[string]any{"GroupName": in.GroupName, "PolicyName": pol.Name, "PolicyDocument": pol.Document}, nil
		}
	}
	return nil, noSuch("group policy", in.PolicyName)
}

func (s *Service) deleteGroupPolicy(ctx context.Context, p *auth.Principal, in *inlineInput) (any, error) {
	if err := s.authorize(p, "iam:DeleteGroupPolicy", s.groupARN(in.GroupName)); err != nil {
		return nil, err
	}
	return struct{}{}, mapErr(s.cfg.Store.DeleteGroupPolicy(ctx, in.GroupName, in.PolicyName), "group policy", in.PolicyName)
}

func (s *Service) listGroupPolicies(ctx context.Context, p *auth.Principal, in *inlineInput) (any, error) {
	if err := s.authorize(p, "iam:ListGroupPolicies", s.groupARN(in.GroupName)); err != nil {
		return nil, err
	}
	pols, err := s.cfg.Store.ListGroupPolicies(ctx, in.GroupName)
	if err != nil {
		return nil, mapErr(err, "group", in.GroupName)
	}
	names := []string{}
	for _, pol := range pols {
		names = append(names, pol.Name)
	}
	return map[string]any{"PolicyNames": names, "IsTruncated": false}, nil
}

// --- managed policies ---

type policyInput struct {
	PolicyName     string `json:"PolicyName"`
	PolicyArn      string `json:"PolicyArn"`
	PolicyDocument string `json:"PolicyDocument"`
	Description    string `json:"Description"`
	VersionID      string `json:"VersionId"`
	SetAsDefault   bool   `json:"SetAsDefault"`
}

func (s *Service) toPolicy(mp store.ManagedPolicy) Policy {
	return Policy{PolicyName: mp.Name, PolicyID: mp.ID, Arn: s.policyARN(mp.Name), Path: "/", DefaultVersionID: mp.DefaultVersionID,
		AttachmentCount: mp.AttachmentCount, Description: mp.Description, CreateDate: epoch(mp.CreatedAt), UpdateDate: epoch(mp.UpdatedAt)}
}

func (s *Service) createPolicy(ctx context.Context, p *auth.Principal, in *policyInput) (any, error) {
	if err := validName("PolicyName", in.PolicyName, 128); err != nil {
		return nil, err
	}
	if err := s.authorize(p, "iam:CreatePolicy", s.policyARN(in.PolicyName)); err != nil {
		return nil, err
	}
	if err := validateDocument(in.PolicyDocument); err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	mp := store.ManagedPolicy{Name: in.PolicyName, ID: auth.RandomID("ANPA", 17), Description: in.Description, DefaultVersionID: "v1", CreatedAt: now, UpdatedAt: now}
	if err := s.cfg.Store.CreateManagedPolicy(ctx, mp, in.PolicyDocument); err != nil {
		return nil, mapErr(err, "policy", in.PolicyName)
	}
	return map[string]any{"Policy": s.toPolicy(mp)}, nil
}

func (s *Service) resolvePolicy(p *auth.Principal, arn, action string) (string, error) {
	name, err := s.policyName(arn)
	if err != nil {
		return "", err
	}
	return name, s.authorize(p, action, arn)
}

func (s *Service) getPolicy(ctx context.Context, p *auth.Principal, in *policyInput) (any, error) {
	name, err := s.resolvePolicy(p, in.PolicyArn, "iam:GetPolicy")
	if err != nil {
		return nil, err
	}
	mp, err := s.cfg.Store.GetManagedPolicy(ctx, name)
	if err != nil {
		return nil, mapErr(err, "policy", name)
	}
	return map[string]any{"Policy": s.toPolicy(mp)}, nil
}

func (s *Service) deletePolicy(ctx context.Context, p *auth.Principal, in *policyInput) (any, error) {
	name, err := s.resolvePolicy(p, in.PolicyArn, "iam:DeletePolicy")
	if err != nil {
		return nil, err
	}
	return struct{}{}, mapErr(s.cfg.Store.DeleteManagedPolicy(ctx, name), "policy", name)
}

func (s *Service) listPolicies(ctx context.Context, p *auth.Principal, _ *struct{}) (any, error) {
	if err := s.authorize(p, "iam:ListPolicies", s.policyARN("*")); err != nil {
		return nil, err
	}
	mps, err := s.cfg.Store.ListManagedPolicies(ctx)
	if err != nil {
		return nil, err
	}
	out := []Policy{}
	for _, mp := range mps {
		out = append(out, s.toPolicy(mp))
	}
	return map[string]any{"Policies": out, "IsTruncated": false}, nil
}

func toVersion(v store.PolicyVersion, withDoc bool) PolicyVersion {
	out := PolicyVersion{VersionID: v.VersionID, IsDefaultVersion: v.IsDefault, CreateDate: epoch(v.CreatedAt)}
	if withDoc {
		out.Document = v.Document
	}
	return out
}

func (s *Service) createPolicyVersion(ctx context.Context, p *auth.Principal, in *policyInput) (any, error) {
	name, err := s.resolvePolicy(p, in.PolicyArn, "iam:CreatePolicyVersion")
	if err != nil {
		return nil, err
	}
	if err := validateDocument(in.PolicyDocument); err != nil {
		return nil, err
	}
	v, err := s.cfg.Store.CreatePolicyVersion(ctx, name, in.PolicyDocument, in.SetAsDefault, s.cfg.Now().UTC())
	if err != nil {
		return nil, mapErr(err, "policy", name)
	}
	return map[string]any{"PolicyVersion": toVersion(v, false)}, nil
}

func (s *Service) getPolicyVersion(ctx context.Context, p *auth.Principal, in *policyInput) (any, error) {
	name, err := s.resolvePolicy(p, in.PolicyArn, "iam:GetPolicyVersion")
	if err != nil {
		return nil, err
	}
	v, err := s.cfg.Store.GetPolicyVersion(ctx, name, in.VersionID)
	if err != nil {
		return nil, mapErr(err, "policy version", name+" "+in.VersionID)
	}
	return map[string]any{"PolicyVersion": toVersion(v, true)}, nil
}

func (s *Service) listPolicyVersions(ctx context.Context, p *auth.Principal, in *policyInput) (any, error) {
	name, err := s.resolvePolicy(p, in.PolicyArn, "iam:ListPolicyVersions")
	if err != nil {
		return nil, err
	}
	vs, err := s.cfg.Store.ListPolicyVersions(ctx, name)
	if err != nil {
		return nil, mapErr(err, "policy", name)
	}
	out := []PolicyVersion{}
	for _, v := range vs {
		out = append(out, toVersion(v, false))
	}
	return map[string]any{"Versions": out, "IsTruncated": false}, nil
}

func (s *Service) setDefaultPolicyVersion(ctx context.Context, p *auth.Principal, in *policyInput) (any, error) {
	name, err := s.resolvePolicy(p, in.PolicyArn, "iam:SetDefaultPolicyVersion")
	if err != nil {
		return nil, err
	}
	return struct{}{}, mapErr(s.cfg.Store.SetDefaultPolicyVersion(ctx, name, in.VersionID, s.cfg.Now().UTC()), "policy version", name+" "+in.VersionID)
}

func (s *Service) deletePolicyVersion(ctx context.Context, p *auth.Principal, in *policyInput) (any, error) {
	name, err := s.resolvePolicy(p, in.PolicyArn, "iam:DeletePolicyVersion")
	if err != nil {
		return nil, err
	}
	return struct{}{}, mapErr(s.cfg.Store.DeletePolicyVersion(ctx, name, in.VersionID), "policy version", name+" "+in.VersionID)
}

type attachInput struct {
	UserName  string `json:"UserName"`
	GroupName string `json:"GroupName"`
	PolicyArn string `json:"PolicyArn"`
}

func (s *Service) principalOf(pt store.PrincipalType, in *attachInput) (name, arn, verb string) {
	if pt == store.PrincipalUser {
		return in.UserName, s.userARN(in.UserName), "User"
	}
	return in.GroupName, s.groupARN(in.GroupName), "Group"
}

func (s *Service) attach(pt store.PrincipalType, on bool) func(context.Context, *auth.Principal, *attachInput) (any, error) {
	return func(ctx context.Context, p *auth.Principal, in *attachInput) (any, error) {
		owner, arn, verb := s.principalOf(pt, in)
		action := "iam:Attach" + verb + "Policy"
		if !on {
			action = "iam:Detach" + verb + "Policy"
		}
		if err := s.authorize(p, action, arn); err != nil {
			return nil, err
		}
		name, err := s.policyName(in.PolicyArn)
		if err != nil {
			return nil, err
		}
		if on {
			if _, err := s.cfg.Store.GetManagedPolicy(ctx, name); err != nil {
				return nil, mapErr(err, "policy", name)
			}
			return struct{}{}, mapErr(s.cfg.Store.AttachPolicy(ctx, pt, owner, name), strings.ToLower(verb), owner)
		}
		return struct{}{}, mapErr(s.cfg.Store.DetachPolicy(ctx, pt, owner, name), "attached policy", name)
	}
}

func (s *Service) listAttached(pt store.PrincipalType) func(context.Context, *auth.Principal, *attachInput) (any, error) {
	return func(ctx context.Context, p *auth.Principal, in *attachInput) (any, error) {
		owner, arn, verb := s.principalOf(pt, in)
		if err := s.authorize(p, "iam:ListAttached"+verb+"Policies", arn); err != nil {
			return nil, err
		}
		mps, err := s.cfg.Store.ListAttachedPolicies(ctx, pt, owner)
		if err != nil {
			return nil, mapErr(err, strings.ToLower(verb), owner)
		}
		out := []AttachedPolicy{}
		for _, mp := range mps {
			out = append(out, AttachedPolicy{PolicyName: mp.Name, PolicyArn: s.policyARN(mp.Name)})
		}
		return map[string]any{"AttachedPolicies": out, "IsTruncated": false}, nil
	}
}

// --- groups ---

type groupInput struct {
	GroupName string `json:"GroupName"`
	UserName  string `json:"UserName"`
}

func (s *Service) toGroup(g store.Group) Group {
	return Group{GroupName: g.Name, GroupID: g.ID, Arn: s.groupARN(g.Name), Path: "/", CreateDate: epoch(g.CreatedAt)}
}

func (s *Service) createGroup(ctx context.Context, p *auth.Principal, in *groupInput) (any, error) {
	if err := validName("GroupName", in.GroupName, 128); err != nil {
		return nil, err
	}
	if err := s.authorize(p, "iam:CreateGroup", s.groupARN(in.GroupName)); err != nil {
		return nil, err
	}
	g := store.Group{Name: in.GroupName, ID: auth.RandomID("AGPA", 17), CreatedAt: s.cfg.Now().UTC()}
	if err := s.cfg.Store.CreateGroup(ctx, g); err != nil {
		return nil, mapErr(err, "group", in.GroupName)
	}
	return map[string]any{"Group": s.toGroup(g)}, nil
}

func (s *Service) getGroup(ctx context.Context, p *auth.Principal, in *groupInput) (any, error) {
	if err := s.authorize(p, "iam:GetGroup", s.groupARN(in.GroupName)); err != nil {
		return nil, err
	}
	g, err := s.cfg.Store.GetGroup(ctx, in.GroupName)
	if err != nil {
		return nil, mapErr(err, "group", in.GroupName)
	}
	members, err := s.cfg.Store.ListGroupMembers(ctx, in.GroupName)
	if err != nil {
		return nil, err
	}
	users := []User{}
	for _, m := range members {
		u, err := s.cfg.Store.GetUser(ctx, m)
		if err != nil {
			continue
		}
		x, err := s.toUser(ctx, u)
		if err != nil {
			return nil, err
		}
		users = append(users, x)
	}
	return map[string]any{"Group": s.toGroup(g), "Users": users, "IsTruncated": false}, nil
}

func (s *Service) deleteGroup(ctx context.Context, p *auth.Principal, in *groupInput) (any, error) {
	if err := s.authorize(p, "iam:DeleteGroup", s.groupARN(in.GroupName)); err != nil {
		return nil, err
	}
	return struct{}{}, mapErr(s.cfg.Store.DeleteGroup(ctx, in.GroupName), "group", in.GroupName)
}

func (s *Service) listGroups(ctx context.Context, p *auth.Principal, _ *struct{}) (any, error) {
	if err := s.authorize(p, "iam:ListGroups", s.groupARN("*")); err != nil {
		return nil, err
	}
	gs, err := s.cfg.Store.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	out := []Group{}
	for _, g := range gs {
		out = append(out, s.toGroup(g))
	}
	return map[string]any{"Groups": out, "IsTruncated": false}, nil
}

func (s *Service) addUserToGroup(ctx context.Context, p *auth.Principal, in *groupInput) (any, error) {
	if err := s.authorize(p, "iam:AddUserToGroup", s.groupARN(in.GroupName)); err != nil {
		return nil, err
	}
	if _, err := s.cfg.Store.GetUser(ctx, in.UserName); err != nil {
		return nil, mapErr(err, "user", in.UserName)
	}
	return struct{}{}, mapErr(s.cfg.Store.AddUserToGroup(ctx, in.GroupName, in.UserName), "group", in.GroupName)
}

func (s *Service) removeUserFromGroup(ctx context.Context, p *auth.Principal, in *groupInput) (any, error) {
	if err := s.authorize(p, "iam:RemoveUserFromGroup", s.groupARN(in.GroupName)); err != nil {
		return nil, err
	}
	return struct{}{}, mapErr(s.cfg.Store.RemoveUserFromGroup(ctx, in.GroupName, in.UserName), "group member", in.UserName)
}

func (s *Service) listGroupsForUser(ctx context.Context, p *auth.Principal, in *groupInput) (any, error) {
	if err := s.authorize(p, "iam:ListGroupsForUser", s.userARN(in.UserName)); err != nil {
		return nil, err
	}
	gs, err := s.cfg.Store.ListGroupsForUser(ctx, in.UserName)
	if err != nil {
		return nil, mapErr(err, "user", in.UserName)
	}
	out := []Group{}
	for _, g := range gs {
		out = append(out, s.toGroup(g))
	}
	return map[string]any{"Groups": out, "IsTruncated": false}, nil
}

// --- user tags ---

type tagInput struct {
	UserName string   `json:"UserName"`
	Tags     []Tag    `json:"Tags"`
	TagKeys  []string `json:"TagKeys"`
}

func validateTags(tags []Tag) error {
	if len(tags) > 50 {
		return &api.Error{Status: http.StatusBadRequest, Code: CodeLimitExceeded, Message: "a user can have at most 50 tags"}
	}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 || strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return &api.Error{Status: http.StatusBadRequest, Code: CodeInvalidInput, Message: fmt.Sprintf("tag key %q must be 1-128 characters, not start with aws:, and its value at most 256", t.Key)}
		}
	}
	return nil
}

func toStoreTags(in []Tag) []store.Tag {
	out := make([]store.Tag, len(in))
	for i, t := range in {
		out[i] = store.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

func (s *Service) tagUser(ctx context.Context, p *auth.Principal, in *tagInput) (any, error) {
	if err := s.authorize(p, "iam:TagUser", s.userARN(in.UserName)); err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, &api.Error{Status: http.StatusBadRequest, Code: CodeValidationError, Message: "Tags must name at least one tag"}
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	return struct{}{}, mapErr(s.cfg.Store.AddTags(ctx, store.ResourceUser, in.UserName, toStoreTags(in.Tags)), "user", in.UserName)
}

func (s *Service) untagUser(ctx context.Context, p *auth.Principal, in *tagInput) (any, error) {
	if err := s.authorize(p, "iam:UntagUser", s.userARN(in.UserName)); err != nil {
		return nil, err
	}
	return struct{}{}, mapErr(s.cfg.Store.RemoveTags(ctx, store.ResourceUser, in.UserName, in.TagKeys), "user", in.UserName)
}

func (s *Service) listUserTags(ctx context.Context, p *auth.Principal, in *tagInput) (any, error) {
	if err := s.authorize(p, "iam:ListUserTags", s.userARN(in.UserName)); err != nil {
		return nil, err
	}
	tags, err := s.cfg.Store.ListTags(ctx, store.ResourceUser, in.UserName)
	if err != nil {
		return nil, mapErr(err, "user", in.UserName)
	}
	out := []Tag{}
	for _, t := range tags {
		out = append(out, Tag{Key: t.Key, Value: t.Value})
	}
	return map[string]any{"Tags": out, "IsTruncated": false}, nil
}

// --- group tags (Tether: SSMSessionRunAs on a group applies to its members) ---

type groupTagInput struct {
	GroupName string   `json:"GroupName"`
	Tags      []Tag    `json:"Tags"`
	TagKeys   []string `json:"TagKeys"`
}

func (s *Service) tagGroup(ctx context.Context, p *auth.Principal, in *groupTagInput) (any, error) {
	if err := s.authorize(p, "iam:TagGroup", s.groupARN(in.GroupName)); err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, &api.Error{Status: http.StatusBadRequest, Code: CodeValidationError, Message: "Tags must name at least one tag"}
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	return struct{}{}, mapErr(s.cfg.Store.AddTags(ctx, store.ResourceGroup, in.GroupName, toStoreTags(in.Tags)), "group", in.GroupName)
}

func (s *Service) untagGroup(ctx context.Context, p *auth.Principal, in *groupTagInput) (any, error) {
	if err := s.authorize(p, "iam:UntagGroup", s.groupARN(in.GroupName)); err != nil {
		return nil, err
	}
	return struct{}{}, mapErr(s.cfg.Store.RemoveTags(ctx, store.ResourceGroup, in.GroupName, in.TagKeys), "group", in.GroupName)
}

func (s *Service) listGroupTags(ctx context.Context, p *auth.Principal, in *groupTagInput) (any, error) {
	if err := s.authorize(p, "iam:ListGroupTags", s.groupARN(in.GroupName)); err != nil {
		return nil, err
	}
	tags, err := s.cfg.Store.ListTags(ctx, store.ResourceGroup, in.GroupName)
	if err != nil {
		return nil, mapErr(err, "group", in.GroupName)
	}
	out := []Tag{}
	for _, t := range tags {
		out = append(out, Tag{Key: t.Key, Value: t.Value})
	}
	return map[string]any{"Tags": out, "IsTruncated": false}, nil
}

// --- simulation ---

// ContextEntry is one SimulatePrincipalPolicy context key.
type ContextEntry struct {
	ContextKeyName   string   `json:"ContextKeyName"`
	ContextKeyValues []string `json:"ContextKeyValues"`
	ContextKeyType   string   `json:"ContextKeyType,omitempty"`
}

type simulateInput struct {
	PolicySourceArn string         `json:"PolicySourceArn"`
	ActionNames     []string       `json:"ActionNames"`
	ResourceArns    []string       `json:"ResourceArns"`
	ContextEntries  []ContextEntry `json:"ContextEntries"`
}

// EvaluationResult is one simulated decision.
type EvaluationResult struct {
	EvalActionName    string             `json:"EvalActionName"`
	EvalResourceName  string             `json:"EvalResourceName"`
	EvalDecision      string             `json:"EvalDecision"`
	MatchedStatements []MatchedStatement `json:"MatchedStatements"`
}

// MatchedStatement names the statement that decided.
type MatchedStatement struct {
	SourcePolicyID string `json:"SourcePolicyId"`
	Sid            string `json:"Sid,omitempty"`
	StatementIndex int    `json:"StatementIndex"`
}

func (s *Service) simulate(ctx context.Context, p *auth.Principal, in *simulateInput) (any, error) {
	user, ok := strings.CutPrefix(in.PolicySourceArn, s.userARN(""))
	if !ok || user == "" {
		return nil, &api.Error{Status: http.StatusBadRequest, Code: CodeInvalidInput, Message: "PolicySourceArn must be a user ARN of this account"}
	}
	if err := s.authorize(p, "iam:SimulatePrincipalPolicy", in.PolicySourceArn); err != nil {
		return nil, err
	}
	if len(in.ActionNames) == 0 {
		return nil, &api.Error{Status: http.StatusBadRequest, Code: CodeValidationError, Message: "ActionNames must name at least one action"}
	}
	target, err := s.cfg.Auth.LoadPrincipal(ctx, user)
	if err != nil {
		var ae *api.Error
		if errors.As(err, &ae) {
			return nil, noSuch("user", user)
		}
		return nil, err
	}
	target.SourceIP = ""
	extra := map[string][]string{}
	for _, c := range in.ContextEntries {
		extra[c.ContextKeyName] = c.ContextKeyValues
	}
	resources := in.ResourceArns
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	out := []EvaluationResult{}
	for _, action := range in.ActionNames {
		for _, res := range resources {
			r, _ := s.cfg.Auth.Simulate(target, action, res, extra)
			er := EvaluationResult{EvalActionName: action, EvalResourceName: res, EvalDecision: r.Decision.String(), MatchedStatements: []MatchedStatement{}}
			if r.Policy != "" {
				er.MatchedStatements = append(er.MatchedStatements, MatchedStatement{SourcePolicyID: r.Policy, Sid: r.Sid, StatementIndex: r.Statement})
			}
			out = append(out, er)
		}
	}
	return map[string]any{"EvaluationResults": out, "IsTruncated": false}, nil
}
