// Package store defines Tether's persistent state: principals, access keys,
// activations, managed instances, Session documents, tags, sessions and
// single-use tokens.
//
// The contract is the Store interface; implementations live in subpackages
// (store/sqlite today, store/postgres later) and must all pass the shared
// conformance suite in store/storetest. Only server-side packages may import
// store: the agent binary must never link it (a test checks).
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors every implementation returns (wrapped or bare) so callers
// can map them to API errors with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	// ErrActivationExpired and ErrActivationExhausted are returned by
	// RegisterInstance when the activation can no longer register instances.
	ErrActivationExpired   = errors.New("activation expired")
	ErrActivationExhausted = errors.New("activation registration limit reached")
	// ErrTokenInvalid is returned by ConsumeToken for an unknown, expired,
	// already used or mismatched token. Callers must not learn which.
	ErrTokenInvalid = errors.New("token invalid")
	// ErrConflict is returned when an operation would break a reference:
	// deleting a managed policy that is still attached, or the default
	// version of a policy.
	ErrConflict = errors.New("conflict")
	// ErrLimitExceeded is returned when a per-entity limit is reached
	// (MaxPolicyVersions).
	ErrLimitExceeded = errors.New("limit exceeded")
)

// MaxPolicyVersions is how many versions a managed policy keeps, as in IAM.
const MaxPolicyVersions = 5

// ResourceType names the kind of a tagged resource.
type ResourceType string

// Resource types that carry tags.
const (
	ResourceManagedInstance ResourceType = "ManagedInstance"
	ResourceActivation      ResourceType = "Activation"
	ResourceUser            ResourceType = "User"
	ResourceGroup           ResourceType = "Group"
	ResourceDocument        ResourceType = "Document"
)

// User is a person or automation principal.
type User struct {
	Name      string // unique, case-sensitive, 1-64 chars [\w+=,.@-]
	ID        string // "AIDA" + 17 upper-case alphanumerics, stable for the user's life
	CreatedAt time.Time
}

// Policy is an inline policy attached to a user.
type Policy struct {
	Name     string
	Document string // IAM JSON as given by the administrator
}

// Group is a named set of users that share policies.
type Group struct {
	Name      string // unique, case-sensitive, 1-128 chars [\w+=,.@-]
	ID        string // "AGPA" + 17 upper-case alphanumerics
	CreatedAt time.Time
}

// ManagedPolicy is a standalone policy that users and groups attach. Its
// documents are versions; exactly one is the default (the one in force).
type ManagedPolicy struct {
	Name             string // unique
	ID               string // "ANPA" + 17 upper-case alphanumerics
	Description      string
	DefaultVersionID string // "v1", "v2", ...
	AttachmentCount  int    // users + groups it is attached to (computed)
	CreatedAt        time.Time
	UpdatedAt        time.Time // when the default version last changed
}

// PolicyVersion is one document of a managed policy.
type PolicyVersion struct {
	PolicyName string
	VersionID  string // "v" + a number that never repeats for the policy
	Document   string
	IsDefault  bool
	CreatedAt  time.Time
}

// Document is one version of a Session document owned by the account.
// Versions are "1", "2", ... and never repeat within a document.
type Document struct {
	Name         string
	Version      string
	Content      string // as given (JSON or YAML text)
	Format       string // "JSON" or "YAML"
	DocumentType string // "Session"
	Hash         string // SHA-256 of Content, hex
	CreatedDate  time.Time
}

// DocumentInfo describes a document across its versions.
type DocumentInfo struct {
	Name           string
	DocumentType   string
	Format         string // format of the default version
	DefaultVersion string
	LatestVersion  string
	CreatedDate    time.Time // of version 1
}

// PrincipalType says whether a policy attachment is on a user or a group.
type PrincipalType string

// Principal types for attachments.
const (
	PrincipalUser  PrincipalType = "user"
	PrincipalGroup PrincipalType = "group"
)

// AccessKeyStatus is Active or Inactive, as IAM spells them.
type AccessKeyStatus string

// Access key statuses.
const (
	KeyActive   AccessKeyStatus = "Active"
	KeyInactive AccessKeyStatus = "Inactive"
)

// AccessKey is a SigV4 credential. The secret is stored only sealed with the
// server key (SigV4 verification needs the plain secret, so a hash cannot do).
type AccessKey struct {
	ID           string // "AKIA" + 16 upper-case alphanumerics
	UserName     string
	SealedSecret []byte // AES-256-GCM sealed by the server's key; never plain text
	Status       AccessKeyStatus
	CreatedAt    time.Time
	LastUsedAt   time.Time // zero if never used
}

// Activation lets hosts register as managed instances.
type Activation struct {
	ID                  string // UUID
	CodeHash            []byte // SHA-256 of the activation code; the code itself is never stored
	Description         string
	DefaultInstanceName string
	IamRole             string
	RegistrationLimit   int
	RegistrationsCount  int
	ExpirationDate      time.Time
	CreatedDate         time.Time
}

// Instance is a registered managed instance (a host running tether-agent).
type Instance struct {
	ID               string // "mi-" + 17 lower-case hex
	Name             string
	ActivationID     string
	IamRole          string
	PublicKey        []byte // ed25519 public key that verifies the agent's credential
	RegistrationDate time.Time
	// Reported by the agent at each connection.
	ComputerName    string
	PlatformType    string // Linux, MacOS, Windows
	PlatformName    string
	PlatformVersion string
	AgentVersion    string
	IPAddress       string
	LastPingAt      time.Time // last time the server heard from the agent
}

// InstanceInfo is what the agent reports about itself on connect.
type InstanceInfo struct {
	ComputerName    string
	PlatformType    string
	PlatformName    string
	PlatformVersion string
	AgentVersion    string
	IPAddress       string
}

// Tag is a key/value pair on a resource.
type Tag struct {
	Key   string
	Value string
}

// Session is one StartSession's lifetime record.
type Session struct {
	ID                 string // "<username>-<17 lower-case hex>"
	Target             string // instance id
	Owner              string // principal ARN
	DocumentName       string
	Reason             string
	Status             string // Connecting, Connected, Disconnected, Terminating, Terminated, Failed
	StartDate          time.Time
	EndDate            time.Time // zero while not ended
	Details            string    // human-readable end reason etc.
	MaxSessionDuration string    // minutes as a string, "" if unset
	ExitCode           *int      // remote exit status if known
	Parameters         string    // JSON of the StartSession parameters
	Transcript         Transcript
}

// Transcript is where a session's transcript goes (decided at StartSession
// from the preferences) and where it went.
type Transcript struct {
	Bucket    string `json:"bucket,omitempty"` // "" : the server's local folder
	KeyPrefix string `json:"keyPrefix,omitempty"`
	Encrypt   bool   `json:"encrypt,omitempty"` // server-side encryption
	// OutputURL is set once the transcript is stored.
	OutputURL string `json:"outputUrl,omitempty"`
	// Stored is when it was stored (zero: not yet).
	Stored time.Time `json:"stored,omitzero"`
	// Kind is what was stored: "cast" (a shell's asciicast) or "events"
	// (a port session's connections).
	Kind string `json:"kind,omitempty"`
}

// SessionFilter selects sessions for ListSessions. Zero fields match all.
type SessionFilter struct {
	Active        *bool // true: not Terminated/Failed; false: Terminated/Failed
	Target        string
	Owner         string
	Status        string
	SessionID     string
	InvokedAfter  time.Time
	InvokedBefore time.Time
}

// TokenKind separates the uses of single-use tokens so one kind can never
// stand in for another.
type TokenKind string

// Token kinds.
const (
	TokenClientData   TokenKind = "client-data"   // a client opening a session's data channel
	TokenAgentControl TokenKind = "agent-control" // an agent opening its control channel
	TokenAgentData    TokenKind = "agent-data"    // an agent opening a session's data channel
)

// Token is a short-lived, single-use bearer token. Only its SHA-256 is stored.
type Token struct {
	Hash      []byte
	Kind      TokenKind
	Subject   string // session id or instance id the token is bound to
	ExpiresAt time.Time
}

// Store is the persistence contract. All methods are safe for concurrent use.
// List methods return results in a stable order (documented per method).
type Store interface {
	// EnsureMeta stores value under key unless one exists; it returns the
	// stored value either way (used for the account id chosen at first start).
	EnsureMeta(ctx context.Context, key, value string) (string, error)

	CreateUser(ctx context.Context, u User) error // ErrAlreadyExists
	GetUser(ctx context.Context, name string) (User, error)
	ListUsers(ctx context.Context) ([]User, error) // by name
	// DeleteUser removes the user with its inline policies, keys, tags,
	// group memberships and policy attachments.
	DeleteUser(ctx context.Context, name string) error

	PutUserPolicy(ctx context.Context, userName string, p Policy) error      // upsert by name
	ListUserPolicies(ctx context.Context, userName string) ([]Policy, error) // by name
	DeleteUserPolicy(ctx context.Context, userName, policyName string) error

	CreateAccessKey(ctx context.Context, k AccessKey) error
	GetAccessKey(ctx context.Context, id string) (AccessKey, error)
	ListAccessKeys(ctx context.Context, userName string) ([]AccessKey, error) // by creation time
	SetAccessKeyStatus(ctx context.Context, id string, s AccessKeyStatus) error
	TouchAccessKey(ctx context.Context, id string, at time.Time) error // sets LastUsedAt
	DeleteAccessKey(ctx context.Context, id string) error

	// Groups. DeleteGroup removes the group's memberships, inline policies,
	// attachments and tags; users stay.
	CreateGroup(ctx context.Context, g Group) error // ErrAlreadyExists
	GetGroup(ctx context.Context, name string) (Group, error)
	ListGroups(ctx context.Context) ([]Group, error) // by name
	DeleteGroup(ctx context.Context, name string) error
	// AddUserToGroup is idempotent; ErrNotFound if either does not exist.
	AddUserToGroup(ctx context.Context, group, user string) error
	RemoveUserFromGroup(ctx context.Context, group, user string) error     // ErrNotFound if not a member
	ListGroupsForUser(ctx context.Context, user string) ([]Group, error)   // by name
	ListGroupMembers(ctx context.Context, group string) ([]string, error)  // user names, by name
	PutGroupPolicy(ctx context.Context, group string, p Policy) error      // upsert by name
	ListGroupPolicies(ctx context.Context, group string) ([]Policy, error) // by name
	DeleteGroupPolicy(ctx context.Context, group, policyName string) error

	// Managed policies. CreateManagedPolicy stores the policy with document
	// as version v1, the default. DeleteManagedPolicy fails with ErrConflict
	// while the policy is attached anywhere, and removes all its versions.
	CreateManagedPolicy(ctx context.Context, p ManagedPolicy, document string) error // ErrAlreadyExists
	GetManagedPolicy(ctx context.Context, name string) (ManagedPolicy, error)
	ListManagedPolicies(ctx context.Context) ([]ManagedPolicy, error) // by name
	DeleteManagedPolicy(ctx context.Context, name string) error
	// CreatePolicyVersion adds the next version (ErrLimitExceeded at
	// MaxPolicyVersions), making it the default if setDefault.
	CreatePolicyVersion(ctx context.Context, policy, document string, setDefault bool, at time.Time) (PolicyVersion, error)
	GetPolicyVersion(ctx context.Context, policy, versionID string) (PolicyVersion, error)
	ListPolicyVersions(ctx context.Context, policy string) ([]PolicyVersion, error) // newest first
	SetDefaultPolicyVersion(ctx context.Context, policy, versionID string, at time.Time) error
	// DeletePolicyVersion fails with ErrConflict for the default version.
	DeletePolicyVersion(ctx context.Context, policy, versionID string) error
	// AttachPolicy is idempotent; ErrNotFound if the principal or policy
	// does not exist. DetachPolicy returns ErrNotFound if not attached.
	AttachPolicy(ctx context.Context, pt PrincipalType, principal, policy string) error
	DetachPolicy(ctx context.Context, pt PrincipalType, principal, policy string) error
	ListAttachedPolicies(ctx context.Context, pt PrincipalType, principal string) ([]ManagedPolicy, error) // by name

	// Documents. CreateDocument stores d as version "1" (default and latest)
	// whatever d.Version says; ErrAlreadyExists if the name is taken.
	// AddDocumentVersion stores the next version, created at at (it becomes
	// latest, not default). A version is a number in its shortest decimal
	// form; GetDocument also takes "$DEFAULT" or "" (the default) and
	// "$LATEST", SetDefaultDocumentVersion only a number. Anything else, and
	// a number the document does not have, is ErrNotFound. Numbers are never
	// handed out twice within a document; one created again after
	// DeleteDocument starts at "1". DeleteDocument removes every version and
	// the document's tags.
	CreateDocument(ctx context.Context, d Document) error
	AddDocumentVersion(ctx context.Context, name, content, format, hash string, at time.Time) (Document, error)
	GetDocument(ctx context.Context, name, version string) (Document, error)
	GetDocumentInfo(ctx context.Context, name string) (DocumentInfo, error)
	ListDocuments(ctx context.Context) ([]DocumentInfo, error)                 // by name
	ListDocumentVersions(ctx context.Context, name string) ([]Document, error) // newest first
	SetDefaultDocumentVersion(ctx context.Context, name, version string) error
	DeleteDocument(ctx context.Context, name string) error

	CreateActivation(ctx context.Context, a Activation) error
	GetActivation(ctx context.Context, id string) (Activation, error)
	ListActivations(ctx context.Context) ([]Activation, error) // by creation time
	DeleteActivation(ctx context.Context, id string) error

	// RegisterInstance atomically checks the activation (exists, not expired
	// at now, count < limit), increments its count and inserts the instance.
	// Tags on the activation are copied to the instance.
	RegisterInstance(ctx context.Context, activationID string, inst Instance, now time.Time) error
	GetInstance(ctx context.Context, id string) (Instance, error)
	ListInstances(ctx context.Context) ([]Instance, error) // by id
	UpdateInstanceInfo(ctx context.Context, id string, info InstanceInfo, at time.Time) error
	TouchInstance(ctx context.Context, id string, at time.Time) error // sets LastPingAt
	// DeleteInstance removes the instance and its tags; its public key goes
	// with it, so the agent can never authenticate again.
	DeleteInstance(ctx context.Context, id string) error

	// Tags: keys are unique per resource; AddTags overwrites values of
	// existing keys. Removing absent keys is not an error. ListTags by key.
	AddTags(ctx context.Context, rt ResourceType, id string, tags []Tag) error
	RemoveTags(ctx context.Context, rt ResourceType, id string, keys []string) error
	ListTags(ctx context.Context, rt ResourceType, id string) ([]Tag, error)

	CreateSession(ctx context.Context, s Session) error
	GetSession(ctx context.Context, id string) (Session, error)
	// UpdateSession loads the session, calls fn on it, and stores the result
	// atomically. If fn returns an error nothing is written and it is returned.
	UpdateSession(ctx context.Context, id string, fn func(*Session) error) (Session, error)
	ListSessions(ctx context.Context, f SessionFilter) ([]Session, error) // newest StartDate first, then id

	PutToken(ctx context.Context, t Token) error
	// ConsumeToken atomically marks the token with this hash used and returns
	// it if it exists, is of kind, is bound to subject, is unused and has not
	// expired at now. Otherwise ErrTokenInvalid. Expired tokens may be purged.
	ConsumeToken(ctx context.Context, hash []byte, kind TokenKind, subject string, now time.Time) (Token, error)

	AuditStore

	Close() error
}
