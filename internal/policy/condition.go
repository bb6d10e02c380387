package policy

import (
	"encoding/base64"
	"fmt"
	"math/big"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

type setOp uint8

const (
	setNone      setOp = iota
	setAnyValue        // ForAnyValue:
	setAllValues       // ForAllValues:
)

// opKind is the positive comparison behind an operator; the negated
// operators (StringNotEquals, NotIpAddress, ...) reuse it with negated set.
type opKind uint8

const (
	opStringEquals opKind = iota
	opStringEqualsIgnoreCase
	opStringLike
	opNumericEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opDateEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opBool
	opBinaryEquals
	opIPAddress
	opArnLike
	opNull
)

type operatorInfo struct {
	op      opKind
	negated bool
}

// operators lists every base operator of the IAM page "IAM JSON policy
// elements: Condition operators".
var operators = map[string]operatorInfo{
	"StringEquals":              {opStringEquals, false},
	"StringNotEquals":           {opStringEquals, true},
	"StringEqualsIgnoreCase":    {opStringEqualsIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {opStringEqualsIgnoreCase, true},
	"StringLike":                {opStringLike, false},
	"StringNotLike":             {opStringLike, true},
	"NumericEquals":             {opNumericEquals, false},
	"NumericNotEquals":          {opNumericEquals, true},
	"NumericLessThan":           {opNumericLessThan, false},
	"NumericLessThanEquals":     {opNumericLessThanEquals, false},
	"NumericGreaterThan":        {opNumericGreaterThan, false},
	"NumericGreaterThanEquals":  {opNumericGreaterThanEquals, false},
	"DateEquals":                {opDateEquals, false},
	"DateNotEquals":             {opDateEquals, true},
	"DateLessThan":              {opDateLessThan, false},
	"DateLessThanEquals":        {opDateLessThanEquals, false},
	"DateGreaterThan":           {opDateGreaterThan, false},
	"DateGreaterThanEquals":     {opDateGreaterThanEquals, false},
	"Bool":                      {opBool, false},
	"BinaryEquals":              {opBinaryEquals, false},
	"IpAddress":                 {opIPAddress, false},
	"NotIpAddress":              {opIPAddress, true},
	"ArnEquals":                 {opArnLike, false}, // ArnEquals and ArnLike "behave identically"
	"ArnLike":                   {opArnLike, false},
	"ArnNotEquals":              {opArnLike, true},
	"ArnNotLike":                {opArnLike, true},
	"Null":                      {opNull, false},
}

type compiledCondition struct {
	set      setOp
	op       opKind
	negated  bool
	ifExists bool
	key      string // lowercased: condition key names ignore case
	vals     []condValue
	hasVars  bool // some value holds a policy variable
}

// condValue is one condition value, pre-parsed for its operator.
type condValue struct {
	tmpl   template // string and ARN operators
	num    *big.Rat
	time   time.Time
	prefix netip.Prefix
	bytes  string // BinaryEquals, decoded
	b      bool   // Bool and Null
}

// parseOperator splits an operator name such as
// "ForAllValues:StringLikeIfExists" into its parts. It returns a message
// saying what is wrong with an unknown or malformed name.
func parseOperator(name string) (compiledCondition, string) {
	var c compiledCondition
	base := name
	switch {
	case strings.HasPrefix(base, "ForAnyValue:"):
		c.set, base = setAnyValue, strings.TrimPrefix(base, "ForAnyValue:")
	case strings.HasPrefix(base, "ForAllValues:"):
		c.set, base = setAllValues, strings.TrimPrefix(base, "ForAllValues:")
	}
	if b, ok := strings.CutSuffix(base, "IfExists"); ok {
		if _, known := operators[b]; known {
			c.ifExists, base = true, b
		}
	}
	info, ok := operators[base]
	if !ok {
		msg := fmt.Sprintf("unknown condition operator %q", name)
		if s := suggestOperator(name); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return c, msg
	}
	c.op, c.negated = info.op, info.negated
	if c.op == opNull {
		if c.ifExists {
			return c, fmt.Sprintf("condition operator %q: Null cannot take IfExists, it already tests whether the key exists", name)
		}
		if c.set != setNone {
			return c, fmt.Sprintf("condition operator %q: Null cannot take ForAnyValue: or ForAllValues:", name)
		}
	}
	return c, ""
}

// suggestOperator finds the operator name closest to a misspelt one.
func suggestOperator(name string) string {
	prefix, base := "", name
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		prefix, base = name[:i+1], name[i+1:]
		switch {
		case strings.EqualFold(prefix, "ForAnyValue:"):
			prefix = "ForAnyValue:"
		case strings.EqualFold(prefix, "ForAllValues:"):
			prefix = "ForAllValues:"
		default:
			if d := editDistance(strings.ToLower(prefix), "foranyvalue:"); d <= 3 {
				prefix = "ForAnyValue:"
			} else if d := editDistance(strings.ToLower(prefix), "forallvalues:"); d <= 3 {
				prefix = "ForAllValues:"
			} else {
				return ""
			}
		}
	}
	// Allow about one typo per four letters, so short names are not
	// "corrected" into unrelated operators.
	lower := strings.ToLower(base)
	best, bestDist := "", min(3, max(1, len(lower)/4))+1
	for op := range operators {
		for _, cand := range []string{op, op + "IfExists"} {
			if d := editDistance(lower, strings.ToLower(cand)); d < bestDist || d == bestDist && cand < best {
				best, bestDist = cand, d
			}
		}
	}
	if best == "" || prefix+best == name {
		return ""
	}
	return prefix + best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// compileValue checks one condition value for the operator and pre-parses
// it. It returns a message when the value cannot be used.
func (c *compiledCondition) compileValue(opName, s string, expand bool) (condValue, string) {
	var v condValue
	switch c.op {
	case opStringEquals, opStringEqualsIgnoreCase, opStringLike, opArnLike:
		t, msg := parseTemplate(s, expand)
		if msg != "" {
			return v, msg
		}
		v.tmpl = t
		if t.hasVars() {
			c.hasVars = true
		}
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		n, ok := parseNumber(s)
		if !ok {
			return v, fmt.Sprintf("%s value %q is not a number", opName, s)
		}
		v.num = n
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		t, ok := parseDate(s)
		if !ok {
			return v, fmt.Sprintf("%s value %q is not a date: use ISO 8601 such as 2026-01-31T12:00:00Z, or epoch seconds", opName, s)
		}
		v.time = t
	case opBool, opNull:
		b, ok := parseBool(s)
		if !ok {
			return v, fmt.Sprintf("%s value %q must be true or false", opName, s)
		}
		v.b = b
	case opBinaryEquals:
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
				return v, fmt.Sprintf("%s value %q is not base64", opName, s)
			}
		}
		v.bytes = string(b)
	case opIPAddress:
		p, ok := parsePrefix(s)
		if !ok {
			return v, fmt.Sprintf("%s value %q is not an IP address or CIDR range such as 203.0.113.0/24 or 2001:db8::/32", opName, s)
		}
		v.prefix = p
	}
	return v, ""
}

// eval decides one condition. The rules, from the IAM pages "IAM JSON policy
// elements: Condition operators" and "Conditions with multiple context keys
// or values" (formerly "Creating a condition that tests multiple key values
// (set operations)"):
//
//   - A key absent from the request makes a condition false, except that a
//     negated operator (StringNotEquals, NotIpAddress, ...) is then true,
//     an ...IfExists operator is true, ForAllValues: is true (the empty set)
//     and ForAnyValue: is false. Null tests absence itself.
//   - Several values for one key in the policy are ORed; for a negated
//     operator they are NORed.
//   - ForAllValues: holds when every request value matches; ForAnyValue:
//     when at least one does. Without a set operator a positive operator
//     holds when any request value matches and a negated one when none
//     does, so StringNotEquals is always the opposite of StringEquals.
//   - A request value that cannot be read as the operator's type (a number,
//     date, IP address or boolean) matches neither the operator nor its
//     negation, and a policy value whose variable has no value matches
//     nothing and makes the negated test fail: AWS says such a variable
//     invalidates the statement.
func (c *compiledCondition) eval(ctx *evalContext) bool {
	reqVals := ctx.get(c.key)
	if len(reqVals) == 0 {
		switch {
		case c.op == opNull:
			return c.anyPolicyBool(true)
		case c.ifExists:
			return true
		case c.set == setAllValues:
			return true
		case c.set == setAnyValue:
			return false
		}
		return c.negated
	}
	if c.op == opNull {
		return c.anyPolicyBool(false)
	}

	pol := c.policyValues(ctx)
	wantAll := c.set == setAllValues || c.set == setNone && c.negated
	for _, r := range reqVals {
		if c.valueTest(r, pol) != wantAll {
			return !wantAll
		}
	}
	return wantAll
}

func (c *compiledCondition) anyPolicyBool(want bool) bool {
	for _, v := range c.vals {
		if v.b == want {
			return true
		}
	}
	return false
}

// resolved is a string or ARN policy value after variable substitution.
type resolved struct {
	s  string
	ok bool
}

func (c *compiledCondition) policyValues(ctx *evalContext) []resolved {
	if !c.hasVars {
		return nil
	}
	asGlob := c.op == opStringLike || c.op == opArnLike
	out := make([]resolved, len(c.vals))
	for i := range c.vals {
		out[i].s, out[i].ok = c.vals[i].tmpl.resolve(ctx, asGlob)
	}
	return out
}

// valueTest applies the operator to one request value: for a positive
// operator, does it match any policy value; for a negated one, does it match
// none of them.
func (c *compiledCondition) valueTest(r string, pol []resolved) bool {
	matched, valid := c.matchAny(r, pol)
	if !valid {
		return false
	}
	return matched != c.negated
}

// matchAny reports whether request value r matches any policy value. valid
// is false when r cannot be read as the operator's type, or when the
// operator is negated and some policy value did not resolve.
func (c *compiledCondition) matchAny(r string, pol []resolved) (matched, valid bool) {
	switch c.op {
	case opStringEquals, opStringEqualsIgnoreCase, opStringLike, opArnLike:
		for i := range c.vals {
			var p string
			if pol != nil {
				if !pol[i].ok {
					if c.negated {
						return false, false
					}
					continue
				}
				p = pol[i].s
			} else if c.op == opStringLike || c.op == opArnLike {
				p = c.vals[i].tmpl.glob
			} else {
				p = c.vals[i].tmpl.raw
			}
			if stringMatch(c.op, p, r) {
				return true, true
			}
		}
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		n, ok := parseNumber(r)
		if !ok {
			return false, false
		}
		for i := range c.vals {
			if cmpMatches(c.op-opNumericEquals, n.Cmp(c.vals[i].num)) {
				return true, true
			}
		}
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		t, ok := parseDate(r)
		if !ok {
			return false, false
		}
		for i := range c.vals {
			if cmpMatches(c.op-opDateEquals, t.Compare(c.vals[i].time)) {
				return true, true
			}
		}
	case opBool:
		b, ok := parseBool(r)
		if !ok {
			return false, false
		}
		for i := range c.vals {
			if c.vals[i].b == b {
				return true, true
			}
		}
	case opBinaryEquals:
		for i := range c.vals {
			if c.vals[i].bytes == r {
				return true, true
			}
		}
	case opIPAddress:
		a, err := netip.ParseAddr(r)
		if err != nil {
			return false, false
		}
		a = a.Unmap().WithZone("")
		for i := range c.vals {
			if c.vals[i].prefix.Contains(a) {
				return true, true
			}
		}
	}
	return false, true
}

func stringMatch(op opKind, p, r string) bool {
	switch op {
	case opStringEquals:
		return p == r
	case opStringEqualsIgnoreCase:
		return strings.EqualFold(p, r)
	case opStringLike:
		return globMatch(p, r)
	default:
		return arnMatch(p, r)
	}
}

// cmpMatches applies a comparison, numbered as Equals, LessThan,
// LessThanEquals, GreaterThan, GreaterThanEquals, to the result of
// comparing the request value with the policy value.
func cmpMatches(which opKind, cmp int) bool {
	switch which {
	case 0:
		return cmp == 0
	case 1:
		return cmp < 0
	case 2:
		return cmp <= 0
	case 3:
		return cmp > 0
	default:
		return cmp >= 0
	}
}

// parseNumber reads an integer or decimal, optionally with an exponent.
func parseNumber(s string) (*big.Rat, bool) {
	if !isDecimal(s, true) {
		return nil, false
	}
	n, ok := new(big.Rat).SetString(s)
	return n, ok
}

// isDecimal accepts [+-]digits[.digits][e[+-]digits], the exponent only
// when allowed.
func isDecimal(s string, exponent bool) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if exponent && i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		expStart := i
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
		// Keep exponents small so big.Rat stays cheap.
		if n, err := strconv.Atoi(s[expStart:i]); err != nil || n > 400 || n < -400 {
			return false
		}
	}
	return i == len(s)
}

// dateLayouts are the W3C profile of ISO 8601 that the Date operators
// accept ("W3C implementations of the ISO 8601 date formats"), plus the
// basic format AWS prints in signatures. A time without a zone is UTC.
var dateLayouts = []string{
	time.RFC3339, // also accepts fractional seconds
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"20060102T150405Z",
	"2006-01-02",
	"2006-01",
}

// parseDate reads an ISO 8601 date or epoch seconds. A string of digits is
// epoch seconds, so the ISO year-only form "2026" is not supported.
func parseDate(s string) (time.Time, bool) {
	if isDecimal(s, false) {
		sec, frac, _ := strings.Cut(strings.TrimPrefix(s, "+"), ".")
		n, err := strconv.ParseInt(sec, 10, 64)
		if err != nil || n > 1<<40 || n < -(1<<40) {
			return time.Time{}, false
		}
		var nsec int64
		if frac != "" {
			frac = (frac + "000000000")[:9]
			nsec, _ = strconv.ParseInt(frac, 10, 64)
			if n < 0 || strings.HasPrefix(sec, "-") {
				nsec = -nsec
			}
		}
		return time.Unix(n, nsec).UTC(), true
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func parseBool(s string) (bool, bool) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}

// parsePrefix reads a CIDR range; a bare address is a /32 (or /128), as the
// IAM page on IP address condition operators says.
func parsePrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		a := p.Addr()
		if a.Is4In6() {
			bits := p.Bits() - 96
			if bits < 0 {
				return netip.Prefix{}, false
			}
			p = netip.PrefixFrom(a.Unmap(), bits)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// evalContext looks condition keys up without regard to case. Contexts are
// small, so a linear scan with EqualFold beats building a lowercased map on
// every request.
type evalContext struct {
	raw     map[string][]string
	entries []ctxEntry
	built   bool
}

type ctxEntry struct {
	key   string
	vals  []string
	ascii bool // case folding cannot change the key's length
}

// get returns the values of a key. Key names ignore case, the tag-key part
// of aws:PrincipalTag/K, aws:ResourceTag/K or ssm:resourceTag/K included
// (IAM page "IAM JSON policy elements: Condition"). When the request holds
// a key in several spellings ("Foo" and "foo") that page says the policy's
// key matches both, so their values are combined, in a fixed order.
func (c *evalContext) get(key string) []string {
	if !c.built {
		c.built = true
		c.entries = make([]ctxEntry, 0, len(c.raw))
		for k, v := range c.raw {
			c.entries = append(c.entries, ctxEntry{k, v, !hasNonASCII(k)})
		}
	}
	keyASCII := !hasNonASCII(key)
	first, several := -1, false
	for i := range c.entries {
		if sameKey(&c.entries[i], key, keyASCII) {
			if first >= 0 {
				several = true
				break
			}
			first = i
		}
	}
	switch {
	case first < 0:
		return nil
	case !several:
		return c.entries[first].vals
	}
	var spellings []string
	for i := range c.entries {
		if sameKey(&c.entries[i], key, keyASCII) {
			spellings = append(spellings, c.entries[i].key)
		}
	}
	sort.Strings(spellings)
	var merged []string
	for _, k := range spellings {
		merged = append(merged, c.raw[k]...)
	}
	return merged
}

func sameKey(e *ctxEntry, key string, keyASCII bool) bool {
	if len(e.key) != len(key) && e.ascii && keyASCII {
		return false
	}
	return strings.EqualFold(e.key, key)
}

func hasNonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return true
		}
	}
	return false
}
