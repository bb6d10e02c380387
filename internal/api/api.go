// Package api holds the request and response shapes of Tether's HTTP API
// (the SSM-compatible awsJson1_1 operations and Tether's own) and its error
// type. It is pure data: the server, the CLI and the agent all import it.
package api

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Target prefixes of the X-Amz-Target header.
const (
	TargetSSM    = "AmazonSSM."
	TargetTether = "Tether."
)

// ContentType is the awsJson1_1 content type.
const ContentType = "application/x-amz-json-1.1"

// Error is an API error rendered as AWS's JSON error body
// {"__type": Code, "message": Message} with HTTP status Status.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf builds a client (400) error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error codes used by Tether, spelled as AWS spells them.
const (
	CodeAccessDenied            = "AccessDeniedException"
	CodeValidation              = "ValidationException"
	CodeInternal                = "InternalServerError"
	CodeUnknownOperation        = "UnknownOperationException"
	CodeSerialization           = "SerializationException"
	CodeInvalidInstanceID       = "InvalidInstanceId"
	CodeInvalidNextToken        = "InvalidNextToken"
	CodeInvalidFilterKey        = "InvalidFilterKey"
	CodeInvalidFilterValue      = "InvalidInstanceInformationFilterValue"
	CodeInvalidFilter           = "InvalidFilter"
	CodeInvalidDocument         = "InvalidDocument"
	CodeTargetNotConnected      = "TargetNotConnected"
	CodeDoesNotExist            = "DoesNotExistException"
	CodeInvalidResourceID       = "InvalidResourceId"
	CodeInvalidResourceType     = "InvalidResourceType"
	CodeInvalidActivation       = "InvalidActivation"
	CodeInvalidActivationID     = "InvalidActivationId"
	CodeTooManyTagsError        = "TooManyTagsError"
	CodeRequestEntityTooLarge   = "RequestEntityTooLargeException"
	CodeMissingAuthToken        = "MissingAuthenticationTokenException"
	CodeUnrecognizedClient      = "UnrecognizedClientException"
	CodeInvalidSignature        = "InvalidSignatureException"
	CodeIncompleteSignature     = "IncompleteSignatureException"
	CodeThrottling              = "ThrottlingException"
	CodeInvalidClientTokenID    = "InvalidClientTokenId"
	CodeNoSuchEntity            = "NoSuchEntity"
	CodeEntityAlreadyExists     = "EntityAlreadyExists"
	CodeInvalidSessionOperation = "InvalidOperationException"
)

// Tag is an SSM tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// --- Sessions ---

// StartSessionInput is AmazonSSM.StartSession's input.
type StartSessionInput struct {
	Target       string              `json:"Target"`
	DocumentName string              `json:"DocumentName,omitempty"`
	Parameters   map[string][]string `json:"Parameters,omitempty"`
	Reason       string              `json:"Reason,omitempty"`
}

// StartSessionOutput is StartSession's (and ResumeSession's) output. All three
// fields are always present: the official plugin dereferences them.
type StartSessionOutput struct {
	SessionID  string `json:"SessionId"`
	TokenValue string `json:"TokenValue"`
	StreamURL  string `json:"StreamUrl"`
}

// SessionIDInput is the input of ResumeSession and TerminateSession.
type SessionIDInput struct {
	SessionID string `json:"SessionId"`
}

// TerminateSessionOutput is TerminateSession's output.
type TerminateSessionOutput struct {
	SessionID string `json:"SessionId"`
}

// SessionFilter is a DescribeSessions filter (lower-case member names, as AWS).
type SessionFilter struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// DescribeSessionsInput is DescribeSessions' input.
type DescribeSessionsInput struct {
	State      string          `json:"State"`
	Filters    []SessionFilter `json:"Filters,omitempty"`
	MaxResults int             `json:"MaxResults,omitempty"`
	NextToken  string          `json:"NextToken,omitempty"`
}

// OutputURL is where a session's transcript is stored.
type OutputURL struct {
	S3OutputURL         string `json:"S3OutputUrl,omitempty"`
	CloudWatchOutputURL string `json:"CloudWatchOutputUrl,omitempty"`
}

// Session is one item of DescribeSessions. Dates are epoch seconds.
type Session struct {
	SessionID          string     `json:"SessionId"`
	Target             string     `json:"Target"`
	Status             string     `json:"Status"`
	StartDate          float64    `json:"StartDate,omitempty"`
	EndDate            float64    `json:"EndDate,omitempty"`
	DocumentName       string     `json:"DocumentName,omitempty"`
	Owner              string     `json:"Owner,omitempty"`
	Reason             string     `json:"Reason,omitempty"`
	Details            string     `json:"Details,omitempty"`
	MaxSessionDuration string     `json:"MaxSessionDuration,omitempty"`
	OutputURL          *OutputURL `json:"OutputUrl,omitempty"`
}

// DescribeSessionsOutput is DescribeSessions' output.
type DescribeSessionsOutput struct {
	Sessions  []Session `json:"Sessions"`
	NextToken string    `json:"NextToken,omitempty"`
}

// GetConnectionStatusInput is GetConnectionStatus's input.
type GetConnectionStatusInput struct {
	Target string `json:"Target"`
}

// GetConnectionStatusOutput is GetConnectionStatus's output; Status is
// "connected" or "notconnected".
type GetConnectionStatusOutput struct {
	Target string `json:"Target"`
	Status string `json:"Status"`
}

// --- Fleet ---

// InstanceInformationFilter is the newer DescribeInstanceInformation filter.
type InstanceInformationFilter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

// InstanceInformationFilterLegacy is the older filter (lower-case members).
type InstanceInformationFilterLegacy struct {
	Key      string   `json:"key"`
	ValueSet []string `json:"valueSet"`
}

// DescribeInstanceInformationInput is DescribeInstanceInformation's input.
type DescribeInstanceInformationInput struct {
	Filters                       []InstanceInformationFilter       `json:"Filters,omitempty"`
	InstanceInformationFilterList []InstanceInformationFilterLegacy `json:"InstanceInformationFilterList,omitempty"`
	MaxResults                    int                               `json:"MaxResults,omitempty"`
	NextToken                     string                            `json:"NextToken,omitempty"`
}

// InstanceInformation is one managed instance as DescribeInstanceInformation
// reports it.
type InstanceInformation struct {
	InstanceID       string  `json:"InstanceId"`
	PingStatus       string  `json:"PingStatus"`
	LastPingDateTime float64 `json:"LastPingDateTime,omitempty"`
	AgentVersion     string  `json:"AgentVersion,omitempty"`
	IsLatestVersion  bool    `json:"IsLatestVersion"`
	PlatformType     string  `json:"PlatformType,omitempty"`
	PlatformName     string  `json:"PlatformName,omitempty"`
	PlatformVersion  string  `json:"PlatformVersion,omitempty"`
	ActivationID     string  `json:"ActivationId,omitempty"`
	IamRole          string  `json:"IamRole,omitempty"`
	RegistrationDate float64 `json:"RegistrationDate,omitempty"`
	ResourceType     string  `json:"ResourceType"`
	Name             string  `json:"Name,omitempty"`
	IPAddress        string  `json:"IPAddress,omitempty"`
	ComputerName     string  `json:"ComputerName,omitempty"`
	SourceID         string  `json:"SourceId,omitempty"`
	SourceType       string  `json:"SourceType,omitempty"`
}

// DescribeInstanceInformationOutput is DescribeInstanceInformation's output.
type DescribeInstanceInformationOutput struct {
	InstanceInformationList []InstanceInformation `json:"InstanceInformationList"`
	NextToken               string                `json:"NextToken,omitempty"`
}

// CreateActivationInput is CreateActivation's input.
type CreateActivationInput struct {
	Description         string  `json:"Description,omitempty"`
	DefaultInstanceName string  `json:"DefaultInstanceName,omitempty"`
	IamRole             string  `json:"IamRole,omitempty"`
	RegistrationLimit   int     `json:"RegistrationLimit,omitempty"`
	ExpirationDate      float64 `json:"ExpirationDate,omitempty"`
	Tags                []Tag   `json:"Tags,omitempty"`
}

// CreateActivationOutput is CreateActivation's output. The code is shown
// once and never stored.
type CreateActivationOutput struct {
	ActivationID   string `json:"ActivationId"`
	ActivationCode string `json:"ActivationCode"`
}

// DescribeActivationsFilter filters activations.
type DescribeActivationsFilter struct {
	FilterKey    string   `json:"FilterKey"`
	FilterValues []string `json:"FilterValues"`
}

// DescribeActivationsInput is DescribeActivations' input.
type DescribeActivationsInput struct {
	Filters    []DescribeActivationsFilter `json:"Filters,omitempty"`
	MaxResults int                         `json:"MaxResults,omitempty"`
	NextToken  string                      `json:"NextToken,omitempty"`
}

// Activation is one DescribeActivations item.
type Activation struct {
	ActivationID        string  `json:"ActivationId"`
	Description         string  `json:"Description,omitempty"`
	DefaultInstanceName string  `json:"DefaultInstanceName,omitempty"`
	IamRole             string  `json:"IamRole,omitempty"`
	RegistrationLimit   int     `json:"RegistrationLimit"`
	RegistrationsCount  int     `json:"RegistrationsCount"`
	ExpirationDate      float64 `json:"ExpirationDate,omitempty"`
	Expired             bool    `json:"Expired"`
	CreatedDate         float64 `json:"CreatedDate,omitempty"`
	Tags                []Tag   `json:"Tags,omitempty"`
}

// DescribeActivationsOutput is DescribeActivations' output.
type DescribeActivationsOutput struct {
	ActivationList []Activation `json:"ActivationList"`
	NextToken      string       `json:"NextToken,omitempty"`
}

// ActivationIDInput is DeleteActivation's input.
type ActivationIDInput struct {
	ActivationID string `json:"ActivationId"`
}

// InstanceIDInput is DeregisterManagedInstance's input.
type InstanceIDInput struct {
	InstanceID string `json:"InstanceId"`
}

// TagsInput is the input of AddTagsToResource / RemoveTagsFromResource /
// ListTagsForResource.
type TagsInput struct {
	ResourceType string   `json:"ResourceType"`
	ResourceID   string   `json:"ResourceId"`
	Tags         []Tag    `json:"Tags,omitempty"`
	TagKeys      []string `json:"TagKeys,omitempty"`
}

// ListTagsOutput is ListTagsForResource's output.
type ListTagsOutput struct {
	TagList []Tag `json:"TagList"`
}

// --- Tether ---

// CallerIdentity is Tether.GetCallerIdentity's output (STS-shaped).
type CallerIdentity struct {
	UserID  string `json:"UserId"`
	Account string `json:"Account"`
	Arn     string `json:"Arn"`
}

// --- Agent endpoints (not SigV4; the agent signs with its instance key) ---

// RegisterInput is POST /v1/agent/register's body.
type RegisterInput struct {
	ActivationID   string `json:"ActivationId"`
	ActivationCode string `json:"ActivationCode"`
	PublicKey      []byte `json:"PublicKey"` // ed25519, 32 bytes
	Name           string `json:"Name,omitempty"`
	ComputerName   string `json:"ComputerName,omitempty"`
}

// RegisterOutput is the register endpoint's answer.
type RegisterOutput struct {
	InstanceID string `json:"InstanceId"`
	Region     string `json:"Region"`
}

// OpenControlChannelInput is the agent's first (text) frame on its control
// channel: AWS's shape plus what the agent reports about its host.
type OpenControlChannelInput struct {
	MessageSchemaVersion string `json:"MessageSchemaVersion"`
	RequestID            string `json:"RequestId"`
	TokenValue           string `json:"TokenValue"`
	AgentVersion         string `json:"AgentVersion"`
	PlatformType         string `json:"PlatformType"`
	PlatformName         string `json:"PlatformName,omitempty"`
	PlatformVersion      string `json:"PlatformVersion,omitempty"`
	ComputerName         string `json:"ComputerName,omitempty"`
	IPAddress            string `json:"IPAddress,omitempty"`
}

// SessionTask is the Content of an interactive_shell control message
// (protocol.md §6.3), plus Tether's NoPty extension.
type SessionTask struct {
	SessionID       string            `json:"SessionId"`
	DocumentName    string            `json:"DocumentName"`
	DocumentContent json.RawMessage   `json:"DocumentContent"`
	Parameters      map[string]string `json:"Parameters"`
	RunAsUser       string            `json:"RunAsUser"`
	SessionOwner    string            `json:"SessionOwner"`
	NoPty           bool              `json:"TetherNoPty,omitempty"`
	// Preferences is the account's SSM-SessionManagerRunShell content when
	// DocumentContent is another document (run-as and shell settings apply
	// to every session). Tether's extension.
	Preferences json.RawMessage `json:"TetherPreferences,omitempty"`
}

// TaskEnvelope wraps a SessionTask as AWS does: Content is the JSON-encoded
// SessionTask as a string.
type TaskEnvelope struct {
	Content       string `json:"Content"`
	TaskID        string `json:"TaskId"`
	Topic         string `json:"Topic"`
	SchemaVersion int    `json:"SchemaVersion"`
}

// SSMARN returns the ARN of an SSM resource in region and account, such as
// "document/NAME" or "session/ID".
func SSMARN(region, account, resource string) string {
	return "arn:aws:ssm:" + region + ":" + account + ":" + resource
}

// IAMARN returns the ARN of an IAM resource in account, such as
// "user/NAME" (IAM ARNs have no region).
func IAMARN(account, resource string) string {
	return "arn:aws:iam::" + account + ":" + resource
}
