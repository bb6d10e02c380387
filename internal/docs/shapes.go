package docs

import "github.com/tetherhq/tether/internal/api"

// Request and response shapes, with AWS's member names.

// CreateDocumentInput is CreateDocument's input.
type CreateDocumentInput struct {
	Content        string    `json:"Content"`
	Name           string    `json:"Name"`
	DocumentType   string    `json:"DocumentType,omitempty"`
	DocumentFormat string    `json:"DocumentFormat,omitempty"`
	VersionName    string    `json:"VersionName,omitempty"`
	Tags           []api.Tag `json:"Tags,omitempty"`
}

// UpdateDocumentInput is UpdateDocument's input.
type UpdateDocumentInput struct {
	Content         string `json:"Content"`
	Name            string `json:"Name"`
	DocumentVersion string `json:"DocumentVersion,omitempty"`
	DocumentFormat  string `json:"DocumentFormat,omitempty"`
	VersionName     string `json:"VersionName,omitempty"`
}

// DocumentInput names a document and optionally a version: the input of
// GetDocument (with DocumentFormat), DescribeDocument,
// UpdateDocumentDefaultVersion and DeleteDocument.
type DocumentInput struct {
	Name            string `json:"Name"`
	DocumentVersion string `json:"DocumentVersion,omitempty"`
	VersionName     string `json:"VersionName,omitempty"`
	DocumentFormat  string `json:"DocumentFormat,omitempty"`
}

// DocumentParameter is one parameter as DescribeDocument reports it.
// DefaultValue is nil when the parameter has no default; a default that is
// not a string is given as JSON.
type DocumentParameter struct {
	Name         string  `json:"Name"`
	Type         string  `json:"Type"`
	Description  string  `json:"Description,omitempty"`
	DefaultValue *string `json:"DefaultValue,omitempty"`
}

// DocumentDescription is AWS's description of one document version.
type DocumentDescription struct {
	Hash            string              `json:"Hash"`
	HashType        string              `json:"HashType"`
	Name            string              `json:"Name"`
	Owner           string              `json:"Owner"`
	CreatedDate     float64             `json:"CreatedDate,omitempty"`
	Status          string              `json:"Status"`
	DocumentVersion string              `json:"DocumentVersion"`
	Description     string              `json:"Description,omitempty"`
	Parameters      []DocumentParameter `json:"Parameters,omitempty"`
	PlatformTypes   []string            `json:"PlatformTypes"`
	DocumentType    string              `json:"DocumentType"`
	SchemaVersion   string              `json:"SchemaVersion"`
	LatestVersion   string              `json:"LatestVersion"`
	DefaultVersion  string              `json:"DefaultVersion"`
	DocumentFormat  string              `json:"DocumentFormat"`
	Tags            []api.Tag           `json:"Tags"`
}

// DocumentDescriptionOutput is the output of CreateDocument and
// UpdateDocument.
type DocumentDescriptionOutput struct {
	DocumentDescription DocumentDescription `json:"DocumentDescription"`
}

// DescribeDocumentOutput is DescribeDocument's output.
type DescribeDocumentOutput struct {
	Document DocumentDescription `json:"Document"`
}

// GetDocumentOutput is GetDocument's output.
type GetDocumentOutput struct {
	Name            string  `json:"Name"`
	CreatedDate     float64 `json:"CreatedDate,omitempty"`
	DocumentVersion string  `json:"DocumentVersion"`
	Status          string  `json:"Status"`
	Content         string  `json:"Content"`
	DocumentType    string  `json:"DocumentType"`
	DocumentFormat  string  `json:"DocumentFormat"`
}

// DefaultVersionDescription is what UpdateDocumentDefaultVersion reports.
type DefaultVersionDescription struct {
	Name           string `json:"Name"`
	DefaultVersion string `json:"DefaultVersion"`
}

// UpdateDocumentDefaultVersionOutput is UpdateDocumentDefaultVersion's
// output.
type UpdateDocumentDefaultVersionOutput struct {
	Description DefaultVersionDescription `json:"Description"`
}

// DocumentKeyValuesFilter is a ListDocuments filter.
type DocumentKeyValuesFilter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

// DocumentFilter is ListDocuments' older filter (lower-case members).
type DocumentFilter struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ListDocumentsInput is ListDocuments' input.
type ListDocumentsInput struct {
	DocumentFilterList []DocumentFilter          `json:"DocumentFilterList,omitempty"`
	Filters            []DocumentKeyValuesFilter `json:"Filters,omitempty"`
	MaxResults         int                       `json:"MaxResults,omitempty"`
	NextToken          string                    `json:"NextToken,omitempty"`
}

// DocumentIdentifier is one ListDocuments item: the default version of a
// document.
type DocumentIdentifier struct {
	Name            string    `json:"Name"`
	CreatedDate     float64   `json:"CreatedDate,omitempty"`
	Owner           string    `json:"Owner"`
	PlatformTypes   []string  `json:"PlatformTypes"`
	DocumentVersion string    `json:"DocumentVersion"`
	DocumentType    string    `json:"DocumentType"`
	SchemaVersion   string    `json:"SchemaVersion"`
	DocumentFormat  string    `json:"DocumentFormat"`
	Tags            []api.Tag `json:"Tags"`
}

// ListDocumentsOutput is ListDocuments' output.
type ListDocumentsOutput struct {
	DocumentIdentifiers []DocumentIdentifier `json:"DocumentIdentifiers"`
	NextToken           string               `json:"NextToken,omitempty"`
}
