package policy

import "strings"

// Evaluate decides a request against the policies of one principal, as IAM
// does for identity-based policies (IAM page "Policy evaluation logic"): a
// request is denied by default, allowed when some statement allows it, and
// denied whenever any statement denies it, whatever allows it.
//
// The Result names the first denying statement, or else the first allowing
// one, in the order the policies and statements are given. Policies with a
// nil Doc are skipped. Evaluate only reads its arguments, so it is safe to
// call concurrently with shared Documents.
func Evaluate(policies []NamedPolicy, r Request) Result {
	ctx := evalContext{raw: r.Context}
	action := strings.ToLower(r.Action)
	var allow Result
	for _, p := range policies {
		if p.Doc == nil {
			continue
		}
		for i := range p.Doc.Statements {
			st := &p.Doc.Statements[i]
			if st.Effect == EffectAllow && allow.Decision == Allow {
				continue // only a Deny can change the outcome now
			}
			if !st.matches(action, r.Resource, &ctx) {
				continue
			}
			res := Result{Policy: p.Name, Sid: st.Sid, Statement: st.Index}
			if st.Effect == EffectDeny {
				res.Decision = ExplicitDeny
				return res
			}
			res.Decision = Allow
			allow = res
		}
	}
	return allow
}

// matches reports whether the statement applies to the request; action is
// already lowercased.
func (st *Statement) matches(action, resource string, ctx *evalContext) bool {
	hit := false
	for _, a := range st.actions {
		if a == "*" || globMatch(a, action) {
			hit = true
			break
		}
	}
	if hit == (st.NotAction != nil) {
		return false
	}

	not := st.NotResource != nil
	hit = false
	for i := range st.resources {
		pat, ok := st.resources[i].resolve(ctx, true)
		if !ok {
			// A variable without a value invalidates the statement (IAM
			// page "IAM policy elements: Variables and tags"): the entry
			// matches nothing, and a NotResource with it cannot say what
			// it excludes, so the statement does not apply at all.
			if not {
				return false
			}
			continue
		}
		if arnMatch(pat, resource) {
			hit = true
			break
		}
	}
	if hit == not {
		return false
	}

	for i := range st.Conditions {
		if !st.Conditions[i].c.eval(ctx) {
			return false
		}
	}
	return true
}
