// Package docs serves the account's Session documents under AWS's document
// operations (CreateDocument, GetDocument, UpdateDocument,
// UpdateDocumentDefaultVersion, DescribeDocument, ListDocuments,
// DeleteDocument) with AWS's shapes and error codes, and resolves a
// document name for StartSession (Lookup). Content is validated by package
// document and kept, with numbered versions, in the store; the AWS-managed
// documents of package document are readable beside them (owner "Amazon",
// version "1") and cannot be changed. SSM-SessionManagerRunShell, which
// holds the Session Manager preferences, is the exception: the account may
// create its own, which then stands in for the built-in one until it is
// deleted. Every operation is authorised by its ssm:* action on the
// document's ARN. Server-side only.
package docs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/auth"
	"github.com/tetherhq/tether/internal/document"
	"github.com/tetherhq/tether/internal/ssmapi"
	"github.com/tetherhq/tether/internal/store"
)

// Error codes of the document operations, as AWS spells them.
const (
	CodeInvalidDocumentContent       = "InvalidDocumentContent"
	CodeInvalidDocumentSchemaVersion = "InvalidDocumentSchemaVersion"
	CodeInvalidDocumentVersion       = "InvalidDocumentVersion"
	CodeInvalidDocumentType          = "InvalidDocumentType"
	CodeInvalidDocumentOperation     = "InvalidDocumentOperation"
	CodeDocumentAlreadyExists        = "DocumentAlreadyExists"
	CodeDocumentVersionLimitExceeded = "DocumentVersionLimitExceeded"
	CodeDuplicateDocumentContent     = "DuplicateDocumentContent"
	CodeMaxDocumentSizeExceeded      = "MaxDocumentSizeExceeded"
)

// Limits, as AWS documents them.
const (
	MaxVersions        = 1000 // versions of one document
	MaxTagsPerResource = 50
	maxListResults     = 50
)

// Values AWS reports for every Session document.
const (
	OwnerAmazon  = "Amazon"
	TypeSession  = "Session"
	StatusActive = "Active"
	HashType     = "Sha256"
)

// PreferencesDocument is the document that holds the Session Manager
// preferences. It is built in, and the account may store its own.
const PreferencesDocument = "SSM-SessionManagerRunShell"

// platformTypes are the platforms of every Session document.
var platformTypes = []string{"Windows", "Linux", "MacOS"}

var (
	// nameRe is CreateDocument's pattern for a name.
	nameRe = regexp.MustCompile(`^[a-zA-Z0-9_\-.]{3,128}$`)
	// refRe is the pattern of the other operations, which also take ARNs.
	refRe     = regexp.MustCompile(`^[a-zA-Z0-9_\-.:/]{3,128}$`)
	versionRe = regexp.MustCompile(`^([$]LATEST|[$]DEFAULT|[1-9][0-9]*)$`)
)

// reservedPrefixes are the name prefixes AWS keeps for its own documents,
// compared without regard to case.
var reservedPrefixes = []string{"aws", "amazon", "amzn"}

// Config configures a Service.
type Config struct {
	Store   store.Store
	Auth    *auth.Authority
	Region  string
	Account string
	Logger  *slog.Logger
	Now     func() time.Time
}

// Service implements the document operations.
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
	m.Handle(api.TargetSSM+"CreateDocument", ssmapi.Op(s.createDocument))
	m.Handle(api.TargetSSM+"GetDocument", ssmapi.Op(s.getDocument))
	m.Handle(api.TargetSSM+"UpdateDocument", ssmapi.Op(s.updateDocument))
	m.Handle(api.TargetSSM+"UpdateDocumentDefaultVersion", ssmapi.Op(s.updateDefaultVersion))
	m.Handle(api.TargetSSM+"DescribeDocument", ssmapi.Op(s.describeDocument))
	m.Handle(api.TargetSSM+"ListDocuments", ssmapi.Op(s.listDocuments))
	m.Handle(api.TargetSSM+"DeleteDocument", ssmapi.Op(s.deleteDocument))
}

// DocumentARN returns a document's ARN.
func (s *Service) DocumentARN(name string) string {
	return api.SSMARN(s.cfg.Region, s.cfg.Account, "document/"+name)
}

// --- helpers ---

func epoch(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1000
}

func hashOf(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])
}

func validation(format string, args ...any) error {
	return api.Errorf(api.CodeValidation, format, args...)
}

// patternError words a pattern mismatch as AWS's request validation does.
func patternError(value, member string, re *regexp.Regexp) error {
	return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s",
		value, member, re)
}

func noDocument(name string) error {
	return api.Errorf(api.CodeInvalidDocument, "Document with name %s does not exist.", name)
}

func noVersion(name, version string) error {
	return api.Errorf(CodeInvalidDocumentVersion, "Document %s has no version %s: the document version is not valid or does not exist.", name, version)
}

func ownedByAmazon(name, what string) error {
	msg := fmt.Sprintf("Document %s is owned by Amazon and cannot be %s.", name, what)
	if name == PreferencesDocument {
		msg += " Create " + PreferencesDocument + " in your account with CreateDocument to set your own preferences."
	}
	return api.Errorf(CodeInvalidDocumentOperation, "%s", msg)
}

// reserved reports whether the account may not create a document called
// name: the names of Amazon's documents, except the preferences document,
// and the prefixes AWS keeps for them.
func reserved(name string) bool {
	if name == PreferencesDocument {
		return false
	}
	if _, ok := document.FindBuiltin(name); ok {
		return true
	}
	lower := strings.ToLower(name)
	for _, pre := range reservedPrefixes {
		if strings.HasPrefix(lower, pre) {
			return true
		}
	}
	return false
}

// checkRef validates the name a read or change operation is given.
func checkRef(name string) error {
	if name == "" {
		return validation("1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
	}
	if !refRe.MatchString(name) {
		return patternError(name, "name", refRe)
	}
	return nil
}

// checkVersion validates a DocumentVersion member; "" is allowed unless
// required.
func checkVersion(v string, required bool) error {
	if v == "" {
		if required {
			return validation("1 validation error detected: Value null at 'documentVersion' failed to satisfy constraint: Member must not be null")
		}
		return nil
	}
	if !versionRe.MatchString(v) {
		return patternError(v, "documentVersion", versionRe)
	}
	return nil
}

// checkFormat returns the document format an input asks for, JSON when it
// names none, as AWS defaults.
func checkFormat(f string) (string, error) {
	switch f {
	case "":
		return document.FormatJSON, nil
	case document.FormatJSON, document.FormatYAML:
		return f, nil
	}
	return "", validation("1 validation error detected: Value '%s' at 'documentFormat' failed to satisfy constraint: Member must satisfy enum value set: [JSON, YAML] (Session documents are JSON or YAML)", f)
}

// noVersionName refuses VersionName: versions are numbered only, and
// accepting a name that is not kept would mislead the caller.
func noVersionName(v string) error {
	if v != "" {
		return validation("VersionName is not supported: Tether numbers document versions and stores no version names")
	}
	return nil
}

// parseContent validates content as a Session document written in format,
// mapping document errors to AWS's codes.
func parseContent(name, content, format string) (*document.Document, error) {
	if content == "" {
		return nil, validation("1 validation error detected: Value null at 'content' failed to satisfy constraint: Member must not be null")
	}
	if len(content) > document.MaxSize {
		return nil, api.Errorf(CodeMaxDocumentSizeExceeded, "The content is %d bytes; a document can be at most %d bytes.", len(content), document.MaxSize)
	}
	d, err := document.Parse([]byte(content), format)
	if err != nil {
		var de *document.Error
		if !errors.As(err, &de) {
			return nil, err
		}
		code := CodeInvalidDocumentContent
		if strings.HasPrefix(de.Message, "schemaVersion") {
			code = CodeInvalidDocumentSchemaVersion
		}
		return nil, api.Errorf(code, "%s", de.Message)
	}
	if name == PreferencesDocument && d.SessionType != document.SessionStandardStream {
		return nil, api.Errorf(CodeInvalidDocumentContent,
			"sessionType %q: %s holds the Session Manager preferences and must be %s", d.SessionType, PreferencesDocument, document.SessionStandardStream)
	}
	return d, nil
}

func validateTags(tags []api.Tag) error {
	if len(tags) > MaxTagsPerResource {
		return api.Errorf(api.CodeTooManyTagsError, "at most %d tags per resource", MaxTagsPerResource)
	}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 {
			return validation("tag keys must be 1-128 characters and values at most 256 (key %q)", t.Key)
		}
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return validation("tag keys may not start with aws: (key %q)", t.Key)
		}
	}
	return nil
}

func toAPITags(in []store.Tag) []api.Tag {
	out := make([]api.Tag, len(in))
	for i, t := range in {
		out[i] = api.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

// entry is one version of a document as an operation sees it: stored in the
// account, or built in.
type entry struct {
	doc   store.Document
	info  store.DocumentInfo
	owner string
	tags  []store.Tag
}

func builtinEntry(b document.Builtin) entry {
	return entry{
		doc: store.Document{Name: b.Name, Version: "1", Content: b.Content, Format: b.DocumentFormat,
			DocumentType: TypeSession, Hash: hashOf(b.Content)},
		info: store.DocumentInfo{Name: b.Name, DocumentType: TypeSession, Format: b.DocumentFormat,
			DefaultVersion: "1", LatestVersion: "1"},
		owner: OwnerAmazon,
	}
}

// builtinVersion reports whether version names the only version of a
// built-in document.
func builtinVersion(version string) bool {
	switch version {
	case "", "$DEFAULT", "$LATEST", "1":
		return true
	}
	return false
}

// resolve finds a version of a document the account can read: its own
// (with its tags), else a built-in one.
func (s *Service) resolve(ctx context.Context, name, version string) (entry, error) {
	d, err := s.cfg.Store.GetDocument(ctx, name, version)
	switch {
	case err == nil:
		info, err := s.cfg.Store.GetDocumentInfo(ctx, name)
		if err != nil {
			return entry{}, storeError(err, name)
		}
		tags, err := s.cfg.Store.ListTags(ctx, store.ResourceDocument, name)
		if err != nil {
			return entry{}, storeError(err, name)
		}
		return entry{doc: d, info: info, owner: s.cfg.Account, tags: tags}, nil
	case !errors.Is(err, store.ErrNotFound):
		return entry{}, err
	}
	if _, err := s.cfg.Store.GetDocumentInfo(ctx, name); err == nil {
		return entry{}, noVersion(name, version)
	} else if !errors.Is(err, store.ErrNotFound) {
		return entry{}, err
	}
	if b, ok := document.FindBuiltin(name); ok {
		if !builtinVersion(version) {
			return entry{}, noVersion(name, version)
		}
		return builtinEntry(b), nil
	}
	return entry{}, noDocument(name)
}

// storeError maps a store error about a document that was there a moment
// ago (a concurrent delete) to what the caller would have got a moment
// later.
func storeError(err error, name string) error {
	if errors.Is(err, store.ErrNotFound) {
		return noDocument(name)
	}
	return err
}

// describe builds AWS's description of an entry.
func describe(e entry) (DocumentDescription, error) {
	d, err := document.Parse([]byte(e.doc.Content), e.doc.Format)
	if err != nil {
		return DocumentDescription{}, fmt.Errorf("document %s version %s no longer parses: %w", e.doc.Name, e.doc.Version, err)
	}
	out := DocumentDescription{
		Hash: e.doc.Hash, HashType: HashType, Name: e.doc.Name, Owner: e.owner,
		CreatedDate: epoch(e.doc.CreatedDate), Status: StatusActive, DocumentVersion: e.doc.Version,
		Description: d.Description, PlatformTypes: platformTypes, DocumentType: e.doc.DocumentType,
		SchemaVersion: d.SchemaVersion, LatestVersion: e.info.LatestVersion, DefaultVersion: e.info.DefaultVersion,
		DocumentFormat: e.doc.Format, Tags: toAPITags(e.tags),
	}
	names := make([]string, 0, len(d.Parameters))
	for n := range d.Parameters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := d.Parameters[n]
		dp := DocumentParameter{Name: n, Type: p.Type, Description: p.Description}
		switch v := p.Default.(type) {
		case nil:
		case string:
			dp.DefaultValue = &v
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return DocumentDescription{}, fmt.Errorf("document %s parameter %s default: %w", e.doc.Name, n, err)
			}
			str := string(b)
			dp.DefaultValue = &str
		}
		out.Parameters = append(out.Parameters, dp)
	}
	return out, nil
}

// authorize checks action on the document's ARN, with the document's tags
// as ssm:resourceTag/* and any extra context keys.
func (s *Service) authorize(p *auth.Principal, action, name string, tags []store.Tag, extra map[string][]string) error {
	ctx := map[string][]string{}
	for _, t := range tags {
		ctx["ssm:resourceTag/"+t.Key] = []string{t.Value}
	}
	for k, v := range extra {
		ctx[k] = v
	}
	return s.cfg.Auth.Authorize(p, action, s.DocumentARN(name), ctx)
}

// authorizeStored authorises action on the named document, whose stored
// tags (none if there is no such document) are the ssm:resourceTag context,
// then checks the name. Authorisation comes first, so that a caller who may
// not act learns nothing about the name.
func (s *Service) authorizeStored(ctx context.Context, p *auth.Principal, action, name string) error {
	tags, err := s.cfg.Store.ListTags(ctx, store.ResourceDocument, name)
	if errors.Is(err, store.ErrNotFound) {
		tags, err = nil, nil
	}
	if err != nil {
		return err
	}
	if err := s.authorize(p, action, name, tags, nil); err != nil {
		return err
	}
	return checkRef(name)
}

// --- operations ---

func (s *Service) createDocument(ctx context.Context, p *auth.Principal, in *CreateDocumentInput) (any, error) {
	reqTags := map[string][]string{}
	var keys []string
	for _, t := range in.Tags {
		reqTags["aws:RequestTag/"+t.Key] = []string{t.Value}
		keys = append(keys, t.Key)
	}
	if len(keys) > 0 {
		reqTags["aws:TagKeys"] = keys
	}
	if err := s.authorize(p, "ssm:CreateDocument", in.Name, nil, reqTags); err != nil {
		return nil, err
	}
	if in.Name == "" {
		return nil, validation("1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
	}
	if !nameRe.MatchString(in.Name) {
		return nil, patternError(in.Name, "name", nameRe)
	}
	if reserved(in.Name) {
		return nil, validation("Invalid document name %s: names that begin with aws, amazon or amzn (in any case), and the names of Amazon's documents, are reserved.", in.Name)
	}
	if in.DocumentType != TypeSession {
		typ := in.DocumentType
		if typ == "" {
			typ = "Command" // AWS's default
		}
		return nil, api.Errorf(CodeInvalidDocumentType, "Document type %s is not supported: Tether stores Session documents only; set DocumentType to Session.", typ)
	}
	format, err := checkFormat(in.DocumentFormat)
	if err != nil {
		return nil, err
	}
	if err := noVersionName(in.VersionName); err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	if _, err := parseContent(in.Name, in.Content, format); err != nil {
		return nil, err
	}
	d := store.Document{Name: in.Name, Version: "1", Content: in.Content, Format: format, DocumentType: TypeSession,
		Hash: hashOf(in.Content), CreatedDate: s.cfg.Now().UTC()}
	if err := s.cfg.Store.CreateDocument(ctx, d); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return nil, api.Errorf(CodeDocumentAlreadyExists, "Document with same name %s already exists.", in.Name)
		}
		return nil, err
	}
	if len(in.Tags) > 0 {
		st := make([]store.Tag, len(in.Tags))
		for i, t := range in.Tags {
			st[i] = store.Tag{Key: t.Key, Value: t.Value}
		}
		if err := s.cfg.Store.AddTags(ctx, store.ResourceDocument, in.Name, st); err != nil {
			// Without its tags the document could escape tag-based policies.
			if derr := s.cfg.Store.DeleteDocument(context.WithoutCancel(ctx), in.Name); derr != nil {
				s.cfg.Logger.Error("remove untagged document", "document", in.Name, "err", derr)
			}
			return nil, fmt.Errorf("tag document %s: %w", in.Name, err)
		}
	}
	s.cfg.Logger.Info("document created", "document", in.Name, "principal", p.ARN)
	e, err := s.resolve(ctx, in.Name, "1")
	if err != nil {
		return nil, err
	}
	desc, err := describe(e)
	if err != nil {
		return nil, err
	}
	return DocumentDescriptionOutput{DocumentDescription: desc}, nil
}

// readable authorises action on the named document, checks the request's
// name and version, and resolves the version to read.
func (s *Service) readable(ctx context.Context, p *auth.Principal, action string, in *DocumentInput) (entry, error) {
	var zero entry
	if err := s.authorizeStored(ctx, p, action, in.Name); err != nil {
		return zero, err
	}
	if err := checkVersion(in.DocumentVersion, false); err != nil {
		return zero, err
	}
	if err := noVersionName(in.VersionName); err != nil {
		return zero, err
	}
	return s.resolve(ctx, in.Name, in.DocumentVersion)
}

func (s *Service) getDocument(ctx context.Context, p *auth.Principal, in *DocumentInput) (any, error) {
	e, err := s.readable(ctx, p, "ssm:GetDocument", in)
	if err != nil {
		return nil, err
	}
	content, format := e.doc.Content, e.doc.Format
	if in.DocumentFormat != "" {
		if format, err = checkFormat(in.DocumentFormat); err != nil {
			return nil, err
		}
		if content, err = convert(e.doc.Content, e.doc.Format, format); err != nil {
			return nil, fmt.Errorf("document %s version %s: %w", e.doc.Name, e.doc.Version, err)
		}
	}
	return GetDocumentOutput{
		Name: e.doc.Name, CreatedDate: epoch(e.doc.CreatedDate), DocumentVersion: e.doc.Version,
		Status: StatusActive, Content: content, DocumentType: e.doc.DocumentType, DocumentFormat: format,
	}, nil
}

func (s *Service) describeDocument(ctx context.Context, p *auth.Principal, in *DocumentInput) (any, error) {
	e, err := s.readable(ctx, p, "ssm:DescribeDocument", in)
	if err != nil {
		return nil, err
	}
	desc, err := describe(e)
	if err != nil {
		return nil, err
	}
	return DescribeDocumentOutput{Document: desc}, nil
}

// stored returns the account's document name, or the error AWS gives for
// changing it when it has none: InvalidDocumentOperation for a built-in
// document, InvalidDocument otherwise. what says what the caller meant to
// do ("updated", "deleted").
func (s *Service) stored(ctx context.Context, name, what string) (store.DocumentInfo, error) {
	info, err := s.cfg.Store.GetDocumentInfo(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		if _, ok := document.FindBuiltin(name); ok {
			return info, ownedByAmazon(name, what)
		}
		return info, noDocument(name)
	}
	return info, err
}

func (s *Service) updateDocument(ctx context.Context, p *auth.Principal, in *UpdateDocumentInput) (any, error) {
	if err := s.authorizeStored(ctx, p, "ssm:UpdateDocument", in.Name); err != nil {
		return nil, err
	}
	if err := checkVersion(in.DocumentVersion, false); err != nil {
		return nil, err
	}
	if err := noVersionName(in.VersionName); err != nil {
		return nil, err
	}
	format, err := checkFormat(in.DocumentFormat)
	if err != nil {
		return nil, err
	}
	info, err := s.stored(ctx, in.Name, "updated")
	if err != nil {
		return nil, err
	}
	// Only the latest version can be updated, as in AWS.
	switch in.DocumentVersion {
	case "", "$LATEST", info.LatestVersion:
	case "$DEFAULT":
		if info.DefaultVersion != info.LatestVersion {
			return nil, notLatest(in.Name, in.DocumentVersion, info.LatestVersion)
		}
	default:
		return nil, notLatest(in.Name, in.DocumentVersion, info.LatestVersion)
	}
	if _, err := parseContent(in.Name, in.Content, format); err != nil {
		return nil, err
	}
	latest, err := s.cfg.Store.GetDocument(ctx, in.Name, "$LATEST")
	if err != nil {
		return nil, storeError(err, in.Name)
	}
	hash := hashOf(in.Content)
	if hash == latest.Hash {
		return nil, api.Errorf(CodeDuplicateDocumentContent,
			"The content of document %s matches its latest version %s. Change the content of the document and try again.", in.Name, latest.Version)
	}
	if n, _ := strconv.Atoi(info.LatestVersion); n >= MaxVersions {
		return nil, api.Errorf(CodeDocumentVersionLimitExceeded,
			"Document %s has reached the limit of %d versions. Delete the document and create it again to start over.", in.Name, MaxVersions)
	}
	d, err := s.cfg.Store.AddDocumentVersion(ctx, in.Name, in.Content, format, hash, s.cfg.Now().UTC())
	if err != nil {
		return nil, storeError(err, in.Name)
	}
	s.cfg.Logger.Info("document updated", "document", in.Name, "version", d.Version, "principal", p.ARN)
	e, err := s.resolve(ctx, in.Name, d.Version)
	if err != nil {
		return nil, err
	}
	desc, err := describe(e)
	if err != nil {
		return nil, err
	}
	return DocumentDescriptionOutput{DocumentDescription: desc}, nil
}

func notLatest(name, version, latest string) error {
	return api.Errorf(CodeInvalidDocumentVersion,
		"Document %s version %s cannot be updated: only the latest version (%s) can be; specify $LATEST or %s.", name, version, latest, latest)
}

func (s *Service) updateDefaultVersion(ctx context.Context, p *auth.Principal, in *DocumentInput) (any, error) {
	if err := s.authorizeStored(ctx, p, "ssm:UpdateDocumentDefaultVersion", in.Name); err != nil {
		return nil, err
	}
	if err := checkVersion(in.DocumentVersion, true); err != nil {
		return nil, err
	}
	if _, err := s.stored(ctx, in.Name, "updated"); err != nil {
		return nil, err
	}
	d, err := s.cfg.Store.GetDocument(ctx, in.Name, in.DocumentVersion)
	if errors.Is(err, store.ErrNotFound) {
		return nil, noVersion(in.Name, in.DocumentVersion)
	}
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Store.SetDefaultDocumentVersion(ctx, in.Name, d.Version); err != nil {
		return nil, storeError(err, in.Name)
	}
	s.cfg.Logger.Info("document default version set", "document", in.Name, "version", d.Version, "principal", p.ARN)
	return UpdateDocumentDefaultVersionOutput{Description: DefaultVersionDescription{Name: in.Name, DefaultVersion: d.Version}}, nil
}

func (s *Service) deleteDocument(ctx context.Context, p *auth.Principal, in *DocumentInput) (any, error) {
	if err := s.authorizeStored(ctx, p, "ssm:DeleteDocument", in.Name); err != nil {
		return nil, err
	}
	if in.DocumentVersion != "" || in.VersionName != "" {
		// AWS would delete only that version; deleting them all instead
		// would destroy more than asked.
		return nil, validation("Deleting one version is not supported: leave out DocumentVersion and VersionName to delete document %s with all its versions", in.Name)
	}
	if _, err := s.stored(ctx, in.Name, "deleted"); err != nil {
		return nil, err
	}
	if err := s.cfg.Store.DeleteDocument(ctx, in.Name); err != nil {
		return nil, storeError(err, in.Name)
	}
	s.cfg.Logger.Info("document deleted", "document", in.Name, "principal", p.ARN)
	return struct{}{}, nil
}

// Lookup returns the content (as compact JSON) and the parsed form of the document
// name that a session would run: the account's own document if it has one
// (its default version, or version if given), else the built-in document of
// that name. Anything else is an *api.Error InvalidDocument. It does not
// authorise: the caller checks ssm:StartSession on the document's ARN.
func (s *Service) Lookup(ctx context.Context, name, version string) (json.RawMessage, *document.Document, error) {
	d, err := s.cfg.Store.GetDocument(ctx, name, version)
	switch {
	case err == nil:
		content, err := compactJSON(d.Content, d.Format)
		if err != nil {
			return nil, nil, fmt.Errorf("document %s version %s: %w", name, d.Version, err)
		}
		parsed, err := document.Parse(content, document.FormatJSON)
		if err != nil {
			var de *document.Error
			if errors.As(err, &de) {
				return nil, nil, api.Errorf(api.CodeInvalidDocument, "Document %s version %s is not valid: %s", name, d.Version, de.Message)
			}
			return nil, nil, err
		}
		return json.RawMessage(content), parsed, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, nil, fmt.Errorf("look up document %s: %w", name, err)
	}
	if _, err := s.cfg.Store.GetDocumentInfo(ctx, name); err == nil {
		return nil, nil, api.Errorf(api.CodeInvalidDocument, "Document with name %s and version %s does not exist.", name, version)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, nil, fmt.Errorf("look up document %s: %w", name, err)
	}
	b, ok := document.FindBuiltin(name)
	if !ok {
		return nil, nil, noDocument(name)
	}
	if !builtinVersion(version) {
		return nil, nil, api.Errorf(api.CodeInvalidDocument, "Document with name %s and version %s does not exist.", name, version)
	}
	parsed, err := document.Parse([]byte(b.Content), b.DocumentFormat)
	if err != nil {
		return nil, nil, fmt.Errorf("built-in document %s: %w", name, err)
	}
	return json.RawMessage(b.Content), parsed, nil
}
