package document

// Builtin is an AWS-managed Session document that Tether provides under
// AWS's name.
type Builtin struct {
	Name string
	// Content is the document as AWS's GetDocument returns it.
	Content        string
	DocumentFormat string // always "JSON"
	Description    string
}

// Builtins returns the AWS-managed Session documents Tether provides, with
// AWS's content. AWS does not publish these documents as files: the
// content was put together from AWS's schema page, the parameter blocks
// quoted in public copies and write-ups, and the SSM console's defaults,
// and should be re-checked against get-document when an AWS account is at
// hand. SSM-SessionManagerRunShell is the preferences document: AWS
// creates it in an account when preferences are first saved, with the
// console's defaults, which is what it holds here.
func Builtins() []Builtin {
	return []Builtin{
		{Name: "SSM-SessionManagerRunShell", Content: runShell, DocumentFormat: FormatJSON,
			Description: "Document to hold regional settings for Session Manager"},
		{Name: "AWS-StartSSHSession", Content: startSSH, DocumentFormat: FormatJSON,
			Description: "Document to start SSH session over Session Manager"},
		{Name: "AWS-StartPortForwardingSession", Content: portForwarding, DocumentFormat: FormatJSON,
			Description: "Document to start port forwarding session over Session Manager"},
		{Name: "AWS-StartPortForwardingSessionToRemoteHost", Content: portForwardingRemote, DocumentFormat: FormatJSON,
			Description: "Document to start port forwarding session over Session Manager to a remote host"},
		{Name: "Tether-StartPortForwardingSessionMulti", Content: portForwardingMulti, DocumentFormat: FormatJSON,
			Description: "Tether: several port forwards in one session (tether start-session --forward)"},
		{Name: "AWS-StartInteractiveCommand", Content: interactiveCommand, DocumentFormat: FormatJSON,
			Description: "Document to run single interactive command on an instance"},
		{Name: "AWS-StartNonInteractiveCommand", Content: nonInteractiveCommand, DocumentFormat: FormatJSON,
			Description: "Document to run single non-interactive command on an instance"},
		{Name: "AWS-PasswordReset", Content: passwordReset, DocumentFormat: FormatJSON,
			Description: "Document to reset the password of a local user account on an instance"},
	}
}

// FindBuiltin returns the built-in document with the given name.
func FindBuiltin(name string) (Builtin, bool) {
	for _, b := range Builtins() {
		if b.Name == name {
			return b, true
		}
	}
	return Builtin{}, false
}

const runShell = `{
  "schemaVersion": "1.0",
  "description": "Document to hold regional settings for Session Manager",
  "sessionType": "Standard_Stream",
  "inputs": {
    "s3BucketName": "",
    "s3KeyPrefix": "",
    "s3EncryptionEnabled": true,
    "cloudWatchLogGroupName": "",
    "cloudWatchEncryptionEnabled": true,
    "cloudWatchStreamingEnabled": false,
    "idleSessionTimeout": "20",
    "maxSessionDuration": "",
    "kmsKeyId": "",
    "runAsEnabled": false,
    "runAsDefaultUser": "",
    "shellProfile": {
      "windows": "",
      "linux": ""
    }
  }
}`

// portPattern is AWS's pattern for a remote port, 1-65535.
const portPattern = `^([1-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$`

// localPortPattern also allows 0, which asks for any free local port.
const localPortPattern = `^([0-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$`

const startSSH = `{
  "schemaVersion": "1.0",
  "description": "Document to start SSH session over Session Manager",
  "sessionType": "Port",
  "parameters": {
    "portNumber": {
      "type": "String",
      "description": "(Optional) Port number of SSH server on the instance",
      "allowedPattern": "` + portPattern + `",
      "default": "22"
    }
  },
  "properties": {
    "portNumber": "{{ portNumber }}"
  }
}`

const portForwarding = `{
  "schemaVersion": "1.0",
  "description": "Document to start port forwarding session over Session Manager",
  "sessionType": "Port",
  "parameters": {
    "portNumber": {
      "type": "String",
      "description": "(Optional) Port number of the server on the instance",
      "allowedPattern": "` + portPattern + `",
      "default": "80"
    },
    "localPortNumber": {
      "type": "String",
      "description": "(Optional) Port number on local machine to forward traffic to. An open port is chosen at run-time if not provided",
      "allowedPattern": "` + localPortPattern + `",
      "default": "0"
    }
  },
  "properties": {
    "portNumber": "{{ portNumber }}",
    "type": "LocalPortForwarding",
    "localPortNumber": "{{ localPortNumber }}"
  }
}`

// hostPattern refuses the characters a shell or a URL would treat
// specially; it is written with JSON escapes because it sits in JSON.
const hostPattern = `^[^,$^&\\(\\)!;'\"<>\\` + "`" + `{}\\[\\]\\|#=]{3,}$`

const portForwardingRemote = `{
  "schemaVersion": "1.0",
  "description": "Document to start port forwarding session over Session Manager to a remote host",
  "sessionType": "Port",
  "parameters": {
    "portNumber": {
      "type": "String",
      "description": "(Optional) Port number of the server on the remote host",
      "allowedPattern": "` + portPattern + `",
      "default": "80"
    },
    "localPortNumber": {
      "type": "String",
      "description": "(Optional) Port number on local machine to forward traffic to. An open port is chosen at run-time if not provided",
      "allowedPattern": "` + localPortPattern + `",
      "default": "0"
    },
    "host": {
      "type": "String",
      "description": "(Required) Hostname or IP address of the destination server",
      "allowedPattern": "` + hostPattern + `"
    }
  },
  "properties": {
    "portNumber": "{{ portNumber }}",
    "type": "LocalPortForwarding",
    "localPortNumber": "{{ localPortNumber }}",
    "host": "{{ host }}"
  }
}`

const interactiveCommand = `{
  "schemaVersion": "1.0",
  "description": "Document to run single interactive command on an instance",
  "sessionType": "InteractiveCommands",
  "parameters": {
    "command": {
      "type": "String",
      "description": "The command to run on the instance"
    }
  },
  "properties": {
    "windows": {
      "commands": "{{command}}",
      "runAsElevated": false
    },
    "linux": {
      "commands": "{{command}}",
      "runAsElevated": false
    },
    "macos": {
      "commands": "{{command}}",
      "runAsElevated": false
    }
  }
}`

const nonInteractiveCommand = `{
  "schemaVersion": "1.0",
  "description": "Document to run single non-interactive command on an instance",
  "sessionType": "NonInteractiveCommands",
  "parameters": {
    "command": {
      "type": "String",
      "description": "The command to run on the instance"
    }
  },
  "properties": {
    "windows": {
      "commands": "{{command}}",
      "runAsElevated": false
    },
    "linux": {
      "commands": "{{command}}",
      "runAsElevated": false
    },
    "macos": {
      "commands": "{{command}}",
      "runAsElevated": false
    }
  }
}`

const passwordReset = `{
  "schemaVersion": "1.0",
  "description": "Document to reset the password of a local user account on an instance",
  "sessionType": "InteractiveCommands",
  "parameters": {
    "username": {
      "type": "String",
      "description": "The user name for which the password will be reset.",
      "allowedPattern": "^[a-zA-Z0-9\\_.@-]*$",
      "minChars": 1,
      "maxChars": 256
    }
  },
  "properties": {
    "windows": {
      "commands": "net user {{username}} *",
      "runAsElevated": true
    },
    "linux": {
      "commands": "passwd {{username}}",
      "runAsElevated": true
    },
    "macos": {
      "commands": "passwd {{username}}",
      "runAsElevated": true
    }
  }
}`

// portForwardingMulti is Tether's own: several destinations in one Port
// session, each PORT on the instance or HOST:PORT (checked by the agent's
// deny list like AWS-StartPortForwardingSessionToRemoteHost).
const portForwardingMulti = `{
  "schemaVersion": "1.0",
  "description": "Tether: several port forwards in one session (tether start-session --forward)",
  "sessionType": "Port",
  "parameters": {
    "forwards": {
      "type": "StringList",
      "description": "(Required) Destinations, each PORT on the instance or HOST:PORT.",
      "allowedPattern": "^([a-zA-Z0-9][a-zA-Z0-9.-]{0,252}:)?([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$",
      "minItems": 1,
      "maxItems": 16
    }
  },
  "properties": {
    "type": "LocalPortForwarding",
    "destinations": "{{ forwards }}"
  }
}`
