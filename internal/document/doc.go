// Package document owns the content of Session documents: strict parsing
// and validation of JSON and YAML, parameter validation and defaults,
// {{ name }} substitution, and the AWS-managed documents Tether has built
// in. It is pure (no I/O, no clock, no logging) and is imported by the
// server (the document API and StartSession) and by the agent
// (substitution).
//
// # Parsing
//
// Parse follows AWS's Session document schema (schemaVersion 1.0; the
// Standard_Stream, InteractiveCommands, NonInteractiveCommands and Port
// session types; typed parameters) and rejects whatever the schema does
// not describe: unknown keys, values of the wrong type, inputs outside a
// Standard_Stream document, references to undeclared parameters,
// defaults that break their own constraints. Each error is an *Error
// whose message starts with the field at fault, such as
// "properties.linux.commands: ...". YAML aliases, merge keys and custom
// tags are refused; no AWS document needs them. Parameter Store
// references ({{ssm:name}}) are refused too: Tether has no Parameter
// Store, and passing them on as text would only fail later.
//
// allowedPattern is compiled as a Go (RE2) regular expression, which
// covers the Java syntax AWS documents use in practice but not lookaround
// or backreferences, and it must match the whole value, as if written
// between ^ and $ (AWS's agent only looks for a match somewhere in the
// value).
//
// # Parameter values
//
// ResolveParameters checks the values of a StartSession request and
// flattens each parameter to one string, the form in which the server
// passes them to the agent (AWS's agent would turn a one-element list in a
// {{ name }}-only property into a list). Lists are joined with newlines.
//
// # Substitution
//
// Render substitutes as AWS's agent does: plain text replacement in every
// string of the properties. It is what AWS clients and AWS's agent expect,
// and nothing in it is quoted.
//
// LinuxCommands goes beyond AWS. In a commands document each value is
// inserted into the Linux command as single-quoted POSIX sh data, taking
// the quoting around the reference into account (a reference inside "..."
// or '...' closes and reopens it), so a parameter value can never add
// shell syntax to the document's command: "tail -f {{ logpath }}" with
// logpath "x; rm -rf /" runs tail on a file of that name. Where a reference
// sits in a place no quoting makes safe, or after a construct whose
// extent differs between shells (comments, backticks, ${...}, arithmetic,
// here-documents, $'...', a case inside $(...)), Parse rejects the
// document and says which reference and why. Substitution is one pass: a
// value is never searched for references itself.
//
// The exception is a command that is exactly one reference, such as
// AWS-StartInteractiveCommand's "{{command}}": there the parameter is the
// whole command, it is used as given, and the document adds no syntax
// that a value could break out of. Who may run such a document is a
// matter for IAM policy, and its allowedValues or allowedPattern.
//
// Quoting keeps a value one literal word as the shell parses the command.
// It does not control what the command then does with that word: a value
// passed to eval or sh -c is code, bash evaluates the operands of
// [[ ... -eq ... ]] and let as arithmetic, and a value starting with "-"
// is an option to most programs. A document that does any of that should
// constrain its parameter with allowedPattern.
package document
