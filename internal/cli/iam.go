package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/tetherhq/tether/internal/api"
)

// iamField maps one flag to one request member.
type iamField struct {
	flag, member string
	kind         string // "s" string, "b" bool, "doc" policy document, "tags", "list"
	required     bool
}

type iamCommand struct {
	name, op, summary string
	fields            []iamField
}

var (
	fUser     = iamField{"user-name", "UserName", "s", true}
	fUserOpt  = iamField{"user-name", "UserName", "s", false}
	fGroup    = iamField{"group-name", "GroupName", "s", true}
	fPolName  = iamField{"policy-name", "PolicyName", "s", true}
	fPolDoc   = iamField{"policy-document", "PolicyDocument", "doc", true}
	fPolArn   = iamField{"policy-arn", "PolicyArn", "s", true}
	fKeyID    = iamField{"access-key-id", "AccessKeyId", "s", true}
	fVersion  = iamField{"version-id", "VersionId", "s", true}
	fTags     = iamField{"tags", "Tags", "tags", false}
	fTagKeys  = iamField{"tag-keys", "TagKeys", "list", true}
	fStatus   = iamField{"status", "Status", "s", true}
	fDefault  = iamField{"set-as-default", "SetAsDefault", "b", false}
	fDescribe = iamField{"description", "Description", "s", false}
)

func iamCommands() []iamCommand {
	return []iamCommand{
		{"create-user", "CreateUser", "create a user", []iamField{fUser, fTags}},
		{"get-user", "GetUser", "show a user (default: yourself)", []iamField{fUserOpt}},
		{"delete-user", "DeleteUser", "delete a user; its keys stop working at once", []iamField{fUser}},
		{"list-users", "ListUsers", "list users", nil},
		{"create-access-key", "CreateAccessKey", "create an access key (at most two per user)", []iamField{fUserOpt}},
		{"list-access-keys", "ListAccessKeys", "list a user's access keys with last use", []iamField{fUserOpt}},
		{"update-access-key", "UpdateAccessKey", "activate or deactivate an access key", []iamField{fUserOpt, fKeyID, fStatus}},
		{"delete-access-key", "DeleteAccessKey", "delete an access key", []iamField{fUserOpt, fKeyID}},
		{"put-user-policy", "PutUserPolicy", "set a user's inline policy", []iamField{fUser, fPolName, fPolDoc}},
		{"get-user-policy", "GetUserPolicy", "show a user's inline policy", []iamField{fUser, fPolName}},
		{"delete-user-policy", "DeleteUserPolicy", "delete a user's inline policy", []iamField{fUser, fPolName}},
		{"list-user-policies", "ListUserPolicies", "list a user's inline policies", []iamField{fUser}},
		{"create-policy", "CreatePolicy", "create a managed policy", []iamField{fPolName, fPolDoc, fDescribe}},
		{"get-policy", "GetPolicy", "show a managed policy", []iamField{fPolArn}},
		{"delete-policy", "DeletePolicy", "delete a managed policy (must be detached)", []iamField{fPolArn}},
		{"list-policies", "ListPolicies", "list managed policies", nil},
		{"create-policy-version", "CreatePolicyVersion", "add a version to a managed policy", []iamField{fPolArn, fPolDoc, fDefault}},
		{"get-policy-version", "GetPolicyVersion", "show a policy version", []iamField{fPolArn, fVersion}},
		{"list-policy-versions", "ListPolicyVersions", "list a policy's versions", []iamField{fPolArn}},
		{"set-default-policy-version", "SetDefaultPolicyVersion", "choose the version in force", []iamField{fPolArn, fVersion}},
		{"delete-policy-version", "DeletePolicyVersion", "delete a non-default version", []iamField{fPolArn, fVersion}},
		{"attach-user-policy", "AttachUserPolicy", "attach a managed policy to a user", []iamField{fUser, fPolArn}},
		{"detach-user-policy", "DetachUserPolicy", "detach a managed policy from a user", []iamField{fUser, fPolArn}},
		{"list-attached-user-policies", "ListAttachedUserPolicies", "list a user's managed policies", []iamField{fUser}},
		{"create-group", "CreateGroup", "create a group", []iamField{fGroup}},
		{"get-group", "GetGroup", "show a group and its members", []iamField{fGroup}},
		{"delete-group", "DeleteGroup", "delete a group", []iamField{fGroup}},
		{"list-groups", "ListGroups", "list groups", nil},
		{"add-user-to-group", "AddUserToGroup", "add a user to a group", []iamField{fGroup, fUser}},
		{"remove-user-from-group", "RemoveUserFromGroup", "remove a user from a group", []iamField{fGroup, fUser}},
		{"list-groups-for-user", "ListGroupsForUser", "list a user's groups", []iamField{fUser}},
		{"put-group-policy", "PutGroupPolicy", "set a group's inline policy", []iamField{fGroup, fPolName, fPolDoc}},
		{"get-group-policy", "GetGroupPolicy", "show a group's inline policy", []iamField{fGroup, fPolName}},
		{"delete-group-policy", "DeleteGroupPolicy", "delete a group's inline policy", []iamField{fGroup, fPolName}},
		{"list-group-policies", "ListGroupPolicies", "list a group's inline policies", []iamField{fGroup}},
		{"attach-group-policy", "AttachGroupPolicy", "attach a managed policy to a group", []iamField{fGroup, fPolArn}},
		{"detach-group-policy", "DetachGroupPolicy", "detach a managed policy from a group", []iamField{fGroup, fPolArn}},
		{"list-attached-group-policies", "ListAttachedGroupPolicies", "list a group's managed policies", []iamField{fGroup}},
		{"tag-user", "TagUser", "tag a user (e.g. SSMSessionRunAs)", []iamField{fUser, {"tags", "Tags", "tags", true}}},
		{"untag-user", "UntagUser", "remove tags from a user", []iamField{fUser, fTagKeys}},
		{"list-user-tags", "ListUserTags", "list a user's tags", []iamField{fUser}},
		{"tag-group", "TagGroup", "tag a group (SSMSessionRunAs applies to members without their own)", []iamField{fGroup, {"tags", "Tags", "tags", true}}},
		{"untag-group", "UntagGroup", "remove tags from a group", []iamField{fGroup, fTagKeys}},
		{"list-group-tags", "ListGroupTags", "list a group's tags", []iamField{fGroup}},
		{"get-caller-identity", "GetCallerIdentity", "who am I", nil},
	}
}

// readDocument accepts file://path, a path prefixed with @, or inline JSON.
func readDocument(v string) (string, error) {
	path, ok := strings.CutPrefix(v, "file://")
	if !ok {
		path, ok = strings.CutPrefix(v, "@")
	}
	if !ok {
		return v, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func cmdIAM(ctx context.Context, e Env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(e.Stdout, "usage: tether iam <command> [flags]\n\ncommands:")
		tw := tabwriter.NewWriter(e.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  simulate\texplain whether a user may perform an action on a resource\n")
		for _, c := range iamCommands() {
			fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
		}
		tw.Flush()
		return 0
	}
	if args[0] == "simulate" {
		return cmdSimulate(ctx, e, args[1:])
	}
	for _, c := range iamCommands() {
		if c.name == args[0] {
			return runIAM(ctx, e, c, args[1:])
		}
	}
	fmt.Fprintf(e.Stderr, "tether iam: unknown command %q; run `tether iam help`\n", args[0])
	return exitUsage
}

func runIAM(ctx context.Context, e Env, c iamCommand, args []string) int {
	vals := map[string]*string{}
	bools := map[string]*bool{}
	cl, g, code := setup("iam "+c.name, e, args, func(fs *flag.FlagSet) {
		for _, f := range c.fields {
			if f.kind == "b" {
				bools[f.flag] = fs.Bool(f.flag, false, f.member)
				continue
			}
			help := f.member
			switch f.kind {
			case "doc":
				help += " (JSON, or file://path)"
			case "tags":
				help += " (Key=V,Key2=V2)"
			case "list":
				help += " (K1,K2)"
			}
			vals[f.flag] = fs.String(f.flag, "", help)
		}
	})
	if code >= 0 {
		return code
	}
	in := map[string]any{}
	for _, f := range c.fields {
		if f.kind == "b" {
			if *bools[f.flag] {
				in[f.member] = true
			}
			continue
		}
		v := *vals[f.flag]
		if v == "" {
			if f.required {
				fmt.Fprintf(e.Stderr, "tether iam %s: --%s is required\n", c.name, f.flag)
				return exitUsage
			}
			continue
		}
		switch f.kind {
		case "s":
			in[f.member] = v
		case "doc":
			doc, err := readDocument(v)
			if err != nil {
				fmt.Fprintf(e.Stderr, "tether iam %s: --%s: %v\n", c.name, f.flag, err)
				return exitUsage
			}
			in[f.member] = doc
		case "tags":
			tags, err := parseTags(v)
			if err != nil {
				fmt.Fprintf(e.Stderr, "tether iam %s: %v\n", c.name, err)
				return exitUsage
			}
			in[f.member] = tags
		case "list":
			in[f.member] = strings.Split(v, ",")
		}
	}
	var out json.RawMessage
	if err := cl.Call(ctx, api.TargetTether+c.op, in, &out); err != nil {
		return report(e, c.op, err)
	}
	if string(out) == "{}" && g.output != "json" {
		return 0
	}
	var v any
	json.Unmarshal(out, &v)
	if g.output != "json" && printIAMTable(e.Stdout, c.op, v) {
		return 0
	}
	printJSON(e.Stdout, v)
	return 0
}

// printIAMTable prints list results as tables; it reports whether it did.
func printIAMTable(w io.Writer, op string, v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	var rows []any
	var cols []string
	switch op {
	case "ListUsers":
		rows, cols = list(m["Users"]), []string{"UserName", "UserId", "Arn"}
	case "ListGroups", "ListGroupsForUser":
		rows, cols = list(m["Groups"]), []string{"GroupName", "GroupId", "Arn"}
	case "ListPolicies":
		rows, cols = list(m["Policies"]), []string{"PolicyName", "DefaultVersionId", "AttachmentCount", "Arn"}
	case "ListAccessKeys":
		rows, cols = list(m["AccessKeyMetadata"]), []string{"AccessKeyId", "Status", "UserName"}
	case "ListAttachedUserPolicies", "ListAttachedGroupPolicies":
		rows, cols = list(m["AttachedPolicies"]), []string{"PolicyName", "PolicyArn"}
	case "ListUserTags", "ListGroupTags":
		rows, cols = list(m["Tags"]), []string{"Key", "Value"}
	case "ListPolicyVersions":
		rows, cols = list(m["Versions"]), []string{"VersionId", "IsDefaultVersion"}
	case "ListUserPolicies", "ListGroupPolicies":
		for _, n := range list(m["PolicyNames"]) {
			fmt.Fprintln(w, n)
		}
		return true
	default:
		return false
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(cols, "\t")))
	for _, r := range rows {
		rm, _ := r.(map[string]any)
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = fmt.Sprint(rm[c])
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
	return true
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// contextFlags collects repeated --context K=V flags.
type contextFlags map[string][]string

func (c contextFlags) String() string { return "" }
func (c contextFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("--context wants KEY=VALUE, got %q", v)
	}
	c[k] = append(c[k], val)
	return nil
}

func cmdSimulate(ctx context.Context, e Env, args []string) int {
	var user, action, resource string
	cf := contextFlags{}
	cl, g, code := setup("iam simulate", e, args, func(fs *flag.FlagSet) {
		fs.StringVar(&user, "user", "", "user name (required)")
		fs.StringVar(&action, "action", "", "action, e.g. ssm:StartSession (required)")
		fs.StringVar(&resource, "resource", "*", "resource ARN")
		fs.Var(cf, "context", "condition key, KEY=VALUE (repeatable), e.g. ssm:resourceTag/Environment=Development")
	})
	if code >= 0 {
		return code
	}
	if user == "" || action == "" {
		fmt.Fprintln(e.Stderr, "tether iam simulate: --user and --action are required")
		return exitUsage
	}
	var me api.CallerIdentity
	if err := cl.Call(ctx, api.TargetTether+"GetCallerIdentity", struct{}{}, &me); err != nil {
		return report(e, "GetCallerIdentity", err)
	}
	var entries []map[string]any
	keys := make([]string, 0, len(cf))
	for k := range cf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		entries = append(entries, map[string]any{"ContextKeyName": k, "ContextKeyValues": cf[k], "ContextKeyType": "stringList"})
	}
	in := map[string]any{"PolicySourceArn": api.IAMARN(me.Account, "user/"+user), "ActionNames": []string{action},
		"ResourceArns": []string{resource}, "ContextEntries": entries}
	var out struct {
		EvaluationResults []struct {
			EvalActionName, EvalResourceName, EvalDecision string
			MatchedStatements                              []struct {
				SourcePolicyID string `json:"SourcePolicyId"`
				Sid            string
				StatementIndex int
			}
		}
	}
	if err := cl.Call(ctx, api.TargetTether+"SimulatePrincipalPolicy", in, &out); err != nil {
		return report(e, "SimulatePrincipalPolicy", err)
	}
	if g.output == "json" {
		printJSON(e.Stdout, out)
		return 0
	}
	for _, r := range out.EvaluationResults {
		verdict := "denied"
		if r.EvalDecision == "allowed" {
			verdict = "allowed"
		}
		fmt.Fprintf(e.Stdout, "%s: %s %s on %s\n", verdict, user, r.EvalActionName, r.EvalResourceName)
		if len(r.MatchedStatements) == 0 {
			fmt.Fprintf(e.Stdout, "  because no policy of %s allows it (implicit deny)\n", user)
			continue
		}
		m := r.MatchedStatements[0]
		how := "allowed by"
		if r.EvalDecision == "explicitDeny" {
			how = "explicitly denied by"
		}
		sid := ""
		if m.Sid != "" {
			sid = fmt.Sprintf(" (Sid %q)", m.Sid)
		}
		fmt.Fprintf(e.Stdout, "  %s statement %d%s of %s\n", how, m.StatementIndex+1, sid, m.SourcePolicyID)
	}
	if len(out.EvaluationResults) > 0 && out.EvaluationResults[0].EvalDecision != "allowed" {
		return 1
	}
	return 0
}
