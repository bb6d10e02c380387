package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/tetherhq/tether/internal/api"
)

// Session document commands, named and flagged as `aws ssm` names them. The
// shapes are declared here rather than imported from the server's docs
// package, which the CLI must not link.

func documentCommands() []command {
	return []command{
		{"create-document", "store a Session document (file://doc.json or .yaml)", cmdCreateDocument},
		{"get-document", "print a Session document's content", cmdGetDocument},
		{"update-document", "add a version to a Session document", cmdUpdateDocument},
		{"update-document-default-version", "choose the version of a document that sessions use", cmdUpdateDocumentDefaultVersion},
		{"describe-document", "show a Session document's versions, parameters and tags", cmdDescribeDocument},
		{"list-documents", "list Session documents, yours and Amazon's", cmdListDocuments},
		{"delete-document", "delete a Session document with all its versions", cmdDeleteDocument},
	}
}

type docParameter struct {
	Name         string  `json:"Name"`
	Type         string  `json:"Type"`
	Description  string  `json:"Description,omitempty"`
	DefaultValue *string `json:"DefaultValue,omitempty"`
}

type docDescription struct {
	Name            string         `json:"Name"`
	Owner           string         `json:"Owner"`
	DocumentVersion string         `json:"DocumentVersion"`
	DefaultVersion  string         `json:"DefaultVersion"`
	LatestVersion   string         `json:"LatestVersion"`
	Status          string         `json:"Status"`
	DocumentType    string         `json:"DocumentType"`
	DocumentFormat  string         `json:"DocumentFormat"`
	SchemaVersion   string         `json:"SchemaVersion"`
	Description     string         `json:"Description"`
	CreatedDate     float64        `json:"CreatedDate"`
	Hash            string         `json:"Hash"`
	Parameters      []docParameter `json:"Parameters"`
	Tags            []api.Tag      `json:"Tags"`
}

type docIdentifier struct {
	Name            string    `json:"Name"`
	Owner           string    `json:"Owner"`
	DocumentVersion string    `json:"DocumentVersion"`
	DocumentType    string    `json:"DocumentType"`
	DocumentFormat  string    `json:"DocumentFormat"`
	Tags            []api.Tag `json:"Tags"`
}

type docFilter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

// readContent reads --content (file://path, @path or inline) and works out
// its format when --document-format does not say: content that starts with
// '{' is JSON, anything else YAML.
func readContent(content, format string) (string, string, error) {
	if content == "" {
		return "", "", fmt.Errorf("--content is required")
	}
	doc, err := readDocument(content)
	if err != nil {
		return "", "", fmt.Errorf("--content: %w", err)
	}
	if format == "" {
		format = "YAML"
		if t := strings.TrimLeft(strings.TrimPrefix(doc, "\ufeff"), " \t\r\n"); strings.HasPrefix(t, "{") {
			format = "JSON"
		}
	}
	return doc, format, nil
}

// docCall runs op and prints the answer as JSON when asked; it returns the
// raw answer and -1, or the exit code.
func docCall(ctx context.Context, e Env, c *Client, g *globals, op string, in any) (json.RawMessage, int) {
	var out json.RawMessage
	if err := c.Call(ctx, api.TargetSSM+op, in, &out); err != nil {
		return nil, report(e, op, err)
	}
	if g.output == "json" {
		var v any
		json.Unmarshal(out, &v)
		printJSON(e.Stdout, v)
		return out, 0
	}
	return out, -1
}

func cmdCreateDocument(ctx context.Context, e Env, args []string) int {
	var name, content, format, typ, tags string
	c, g, code := setup("create-document", e, args, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "document name (required)")
		fs.StringVar(&content, "content", "", "the document: file://path (required)")
		fs.StringVar(&format, "document-format", "", "JSON or YAML (default: from the content)")
		fs.StringVar(&typ, "document-type", "Session", "only Session")
		fs.StringVar(&tags, "tags", "", "Key=V,Key2=V2 (or Key=K,Value=V)")
	})
	if code >= 0 {
		return code
	}
	doc, format, err := readContent(content, format)
	if err == nil && name == "" {
		err = fmt.Errorf("--name is required")
	}
	var tl []api.Tag
	if err == nil {
		tl, err = parseTags(tags)
	}
	if err != nil {
		fmt.Fprintln(e.Stderr, "tether create-document:", err)
		return exitUsage
	}
	in := map[string]any{"Name": name, "Content": doc, "DocumentFormat": format, "DocumentType": typ}
	if len(tl) > 0 {
		in["Tags"] = tl
	}
	out, code := docCall(ctx, e, c, g, "CreateDocument", in)
	if code >= 0 {
		return code
	}
	var o struct{ DocumentDescription docDescription }
	json.Unmarshal(out, &o)
	printDocDescription(e.Stdout, o.DocumentDescription)
	return 0
}

func cmdUpdateDocument(ctx context.Context, e Env, args []string) int {
	var name, content, format, version string
	c, g, code := setup("update-document", e, args, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "document name (required)")
		fs.StringVar(&content, "content", "", "the new version: file://path (required)")
		fs.StringVar(&format, "document-format", "", "JSON or YAML (default: from the content)")
		fs.StringVar(&version, "document-version", "$LATEST", "the version this one follows: $LATEST or the latest number")
	})
	if code >= 0 {
		return code
	}
	doc, format, err := readContent(content, format)
	if err == nil && name == "" {
		err = fmt.Errorf("--name is required")
	}
	if err != nil {
		fmt.Fprintln(e.Stderr, "tether update-document:", err)
		return exitUsage
	}
	out, code := docCall(ctx, e, c, g, "UpdateDocument",
		map[string]any{"Name": name, "Content": doc, "DocumentFormat": format, "DocumentVersion": version})
	if code >= 0 {
		return code
	}
	var o struct{ DocumentDescription docDescription }
	json.Unmarshal(out, &o)
	printDocDescription(e.Stdout, o.DocumentDescription)
	if d := o.DocumentDescription; d.DefaultVersion != d.DocumentVersion {
		fmt.Fprintf(e.Stdout, "\nSessions still use version %s. To use this one:\n\n  tether update-document-default-version --name %s --document-version %s\n",
			d.DefaultVersion, d.Name, d.DocumentVersion)
	}
	return 0
}

// nameVersion parses the flags of commands that take --name and an
// optional or required --document-version.
func nameVersion(cmd string, e Env, args []string, versionRequired bool, extra func(fs *flag.FlagSet)) (*Client, *globals, map[string]any, int) {
	var name, version string
	c, g, code := setup(cmd, e, args, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "document name (required)")
		help := "version number, $LATEST or $DEFAULT (default: the default version)"
		if versionRequired {
			help = "version number or $LATEST (required)"
		}
		fs.StringVar(&version, "document-version", "", help)
		if extra != nil {
			extra(fs)
		}
	})
	if code >= 0 {
		return nil, nil, nil, code
	}
	if name == "" || (versionRequired && version == "") {
		req := "--name is"
		if versionRequired {
			req = "--name and --document-version are"
		}
		fmt.Fprintf(e.Stderr, "tether %s: %s required\n", cmd, req)
		return nil, nil, nil, exitUsage
	}
	in := map[string]any{"Name": name}
	if version != "" {
		in["DocumentVersion"] = version
	}
	return c, g, in, -1
}

func cmdGetDocument(ctx context.Context, e Env, args []string) int {
	var format string
	c, g, in, code := nameVersion("get-document", e, args, false, func(fs *flag.FlagSet) {
		fs.StringVar(&format, "document-format", "", "JSON or YAML (default: as written)")
	})
	if code >= 0 {
		return code
	}
	if format != "" {
		in["DocumentFormat"] = format
	}
	out, code := docCall(ctx, e, c, g, "GetDocument", in)
	if code >= 0 {
		return code
	}
	var o struct{ Content string }
	json.Unmarshal(out, &o)
	io.WriteString(e.Stdout, o.Content)
	if !strings.HasSuffix(o.Content, "\n") {
		io.WriteString(e.Stdout, "\n")
	}
	return 0
}

func cmdDescribeDocument(ctx context.Context, e Env, args []string) int {
	c, g, in, code := nameVersion("describe-document", e, args, false, nil)
	if code >= 0 {
		return code
	}
	out, code := docCall(ctx, e, c, g, "DescribeDocument", in)
	if code >= 0 {
		return code
	}
	var o struct{ Document docDescription }
	json.Unmarshal(out, &o)
	printDocDescription(e.Stdout, o.Document)
	return 0
}

func cmdUpdateDocumentDefaultVersion(ctx context.Context, e Env, args []string) int {
	c, g, in, code := nameVersion("update-document-default-version", e, args, true, nil)
	if code >= 0 {
		return code
	}
	out, code := docCall(ctx, e, c, g, "UpdateDocumentDefaultVersion", in)
	if code >= 0 {
		return code
	}
	var o struct {
		Description struct{ Name, DefaultVersion string }
	}
	json.Unmarshal(out, &o)
	fmt.Fprintf(e.Stdout, "%s: sessions now use version %s\n", o.Description.Name, o.Description.DefaultVersion)
	return 0
}

func cmdDeleteDocument(ctx context.Context, e Env, args []string) int {
	c, g, in, code := nameVersion("delete-document", e, args, false, nil)
	if code >= 0 {
		return code
	}
	if _, code := docCall(ctx, e, c, g, "DeleteDocument", in); code >= 0 {
		return code
	}
	return 0
}

// parseDocFilters reads Key=K,Values=V1,V2[;Key=K2,Values=V3].
func parseDocFilters(s string) ([]docFilter, error) {
	var out []docFilter
	if s == "" {
		return nil, nil
	}
	for _, f := range strings.Split(s, ";") {
		key, rest, ok := strings.Cut(f, ",Values=")
		if !ok || !strings.HasPrefix(key, "Key=") {
			return nil, fmt.Errorf("--filters wants Key=K,Values=V1,V2, got %q", f)
		}
		out = append(out, docFilter{Key: strings.TrimPrefix(key, "Key="), Values: strings.Split(rest, ",")})
	}
	return out, nil
}

func cmdListDocuments(ctx context.Context, e Env, args []string) int {
	var filters string
	var max int
	c, g, code := setup("list-documents", e, args, func(fs *flag.FlagSet) {
		fs.StringVar(&filters, "filters", "", "Key=Owner,Values=Self[;Key=Name,Values=Team-;Key=tag:Env,Values=prod]")
		fs.IntVar(&max, "max-results", 0, "page size (1-50); with it only the first page is shown")
	})
	if code >= 0 {
		return code
	}
	fl, err := parseDocFilters(filters)
	if err != nil {
		fmt.Fprintln(e.Stderr, "tether list-documents:", err)
		return exitUsage
	}
	in := map[string]any{}
	if len(fl) > 0 {
		in["Filters"] = fl
	}
	if max > 0 {
		in["MaxResults"] = max
	}
	var all []json.RawMessage
	for {
		var out struct {
			DocumentIdentifiers []json.RawMessage
			NextToken           string
		}
		if err := c.Call(ctx, api.TargetSSM+"ListDocuments", in, &out); err != nil {
			return report(e, "ListDocuments", err)
		}
		all = append(all, out.DocumentIdentifiers...)
		if out.NextToken == "" || max > 0 {
			break
		}
		in["NextToken"] = out.NextToken
	}
	if all == nil {
		all = []json.RawMessage{}
	}
	if g.output == "json" {
		printJSON(e.Stdout, map[string]any{"DocumentIdentifiers": all})
		return 0
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tOWNER\tVERSION\tFORMAT\tTYPE\tTAGS")
	for _, raw := range all {
		var d docIdentifier
		json.Unmarshal(raw, &d)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, d.Owner, d.DocumentVersion, d.DocumentFormat, d.DocumentType, fmtTags(d.Tags))
	}
	tw.Flush()
	return 0
}

func fmtTags(tags []api.Tag) string {
	if len(tags) == 0 {
		return "-"
	}
	parts := make([]string, len(tags))
	for i, t := range tags {
		parts[i] = t.Key + "=" + t.Value
	}
	return strings.Join(parts, ",")
}

func printDocDescription(w io.Writer, d docDescription) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Name\t%s\nOwner\t%s\nVersion\t%s (default %s, latest %s)\nStatus\t%s\nType\t%s\nFormat\t%s\nSchemaVersion\t%s\n",
		d.Name, d.Owner, d.DocumentVersion, d.DefaultVersion, d.LatestVersion, d.Status, d.DocumentType, d.DocumentFormat, d.SchemaVersion)
	if d.Description != "" {
		fmt.Fprintf(tw, "Description\t%s\n", d.Description)
	}
	fmt.Fprintf(tw, "Created\t%s\nHash\t%s\nTags\t%s\n", fmtTime(d.CreatedDate), d.Hash, fmtTags(d.Tags))
	tw.Flush()
	if len(d.Parameters) == 0 {
		return
	}
	fmt.Fprintln(w, "\nPARAMETERS")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tDEFAULT\tDESCRIPTION")
	for _, p := range d.Parameters {
		def := "(required)"
		if p.DefaultValue != nil {
			def = fmt.Sprintf("%q", *p.DefaultValue)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.Type, def, p.Description)
	}
	tw.Flush()
}
