// Package config loads tetherd's configuration: flags win over TETHER_*
// environment variables, which win over one YAML file, which wins over the
// documented defaults. CheckAndSetDefaults validates the result.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Server is tetherd's configuration.
type Server struct {
	// Listen is the address to serve on (default 127.0.0.1:7443).
	Listen string `yaml:"listen"`
	// DataDir holds the database, the server key and (dev) the agent state.
	DataDir string `yaml:"data_dir"`
	// Region is the region in ARNs and the SigV4 scope (default us-east-1).
	Region string `yaml:"region"`
	// PublicURL is how clients and agents reach the server (default derived
	// from Listen and TLS).
	PublicURL string `yaml:"public_url"`
	TLSCert   string `yaml:"tls_cert"`
	TLSKey    string `yaml:"tls_key"`
	// LogLevel is debug, info, warn or error (default info).
	LogLevel string `yaml:"log_level"`
	// IdleTimeout ends sessions without stream traffic (default 20m).
	IdleTimeout Duration `yaml:"idle_timeout"`
	// SSHKeyTTL is how long a key pushed with send-ssh-public-key is
	// accepted (default 60s).
	SSHKeyTTL Duration `yaml:"ssh_key_ttl"`
	// TestTimeoutUnit replaces the minute as the unit of the preferences'
	// idleSessionTimeout and maxSessionDuration. Tests only, set with
	// TETHER_TEST_TIMEOUT_UNIT (e.g. 1s); never in a configuration file.
	TestTimeoutUnit Duration `yaml:"-"`
	// TrustedProxies are CIDRs (or addresses) of reverse proxies whose
	// X-Forwarded-For is believed for aws:SourceIp. Empty: none.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// SessionStreamFile, if set, receives every session's live output as
	// JSON lines shaped like AWS's CloudWatch session events
	// (TETHER_SESSION_STREAM_FILE).
	SessionStreamFile string `yaml:"session_stream_file"`
	// SessionStreamStdout writes the same events to standard output
	// (TETHER_SESSION_STREAM_STDOUT=true).
	SessionStreamStdout bool `yaml:"session_stream_stdout"`
	// S3 is the S3-compatible storage used when the preferences name an
	// s3BucketName. Empty fields fall back to the AWS SDK's environment
	// (AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
	// AWS_REGION) and shared files.
	S3 S3 `yaml:"s3"`
}

// S3 configures S3-compatible storage for transcripts.
type S3 struct {
	EndpointURL     string `yaml:"endpoint_url"`
	Region          string `yaml:"region"`
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	// AddressingStyle is path, virtual or "" (auto).
	AddressingStyle string `yaml:"addressing_style"`
}

// TrustedProxyPrefixes parses TrustedProxies.
func (c *Server) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted_proxies: %q is neither a CIDR nor an address", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Duration is a time.Duration written as "20m" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration such as 20m: %w", n.Line, n.Value, err)
	}
	*d = Duration(v)
	return nil
}

// DefaultDataDir is $XDG_DATA_HOME/tether or ~/.local/share/tether.
func DefaultDataDir() string {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "tether")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "tether-data"
	}
	return filepath.Join(home, ".local", "share", "tether")
}

// LoadFile reads a YAML file strictly (unknown keys are errors).
func LoadFile(path string, into *Server) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(into); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// ApplyEnv overlays TETHER_* variables.
func ApplyEnv(c *Server, getenv func(string) string) error {
	set := func(dst *string, key string) {
		if v := getenv(key); v != "" {
			*dst = v
		}
	}
	set(&c.Listen, "TETHER_LISTEN")
	set(&c.DataDir, "TETHER_DATA_DIR")
	set(&c.Region, "TETHER_REGION")
	set(&c.PublicURL, "TETHER_PUBLIC_URL")
	set(&c.TLSCert, "TETHER_TLS_CERT")
	set(&c.TLSKey, "TETHER_TLS_KEY")
	set(&c.LogLevel, "TETHER_LOG_LEVEL")
	set(&c.SessionStreamFile, "TETHER_SESSION_STREAM_FILE")
	if v := getenv("TETHER_SESSION_STREAM_STDOUT"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("TETHER_SESSION_STREAM_STDOUT=%q is not true or false", v)
		}
		c.SessionStreamStdout = b
	}
	if v := getenv("TETHER_TRUSTED_PROXIES"); v != "" {
		c.TrustedProxies = strings.Split(v, ",")
	}
	if v := getenv("TETHER_TEST_TIMEOUT_UNIT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("TETHER_TEST_TIMEOUT_UNIT=%q is not a positive duration", v)
		}
		c.TestTimeoutUnit = Duration(d)
	}
	if v := getenv("TETHER_SSH_KEY_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("TETHER_SSH_KEY_TTL=%q is not a duration such as 60s", v)
		}
		c.SSHKeyTTL = Duration(d)
	}
	if v := getenv("TETHER_IDLE_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("TETHER_IDLE_TIMEOUT=%q is not a duration such as 20m", v)
		}
		c.IdleTimeout = Duration(d)
	}
	return nil
}

// CheckAndSetDefaults fills defaults and validates.
func (c *Server) CheckAndSetDefaults() error {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:7443"
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir()
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level %q: use debug, info, warn or error", c.LogLevel)
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = Duration(20 * time.Minute)
	}
	if c.SSHKeyTTL == 0 {
		c.SSHKeyTTL = Duration(60 * time.Second)
	}
	if c.IdleTimeout < 0 {
		return errors.New("idle_timeout must be positive")
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("listen %q: want host:port: %w", c.Listen, err)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("tls_cert and tls_key go together: set both or neither")
	}
	if c.TLSCert == "" && !isLoopback(host) {
		return fmt.Errorf("refusing plain HTTP on %s: it is not a loopback address; set tls_cert and tls_key (or TETHER_TLS_CERT/TETHER_TLS_KEY), or listen on 127.0.0.1", c.Listen)
	}
	if _, err := c.TrustedProxyPrefixes(); err != nil {
		return err
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("public_url %q must be an http(s) URL", c.PublicURL)
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
