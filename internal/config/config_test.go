package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCheckAndSetDefaults(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/xdg")
	var c Server
	if err := c.CheckAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	want := Server{
		Listen:      "127.0.0.1:7443",
		DataDir:     filepath.Join("/xdg", "tether"),
		Region:      "us-east-1",
		LogLevel:    "info",
		IdleTimeout: Duration(20 * time.Minute),
		SSHKeyTTL:   Duration(60 * time.Second),
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults = %+v; want %+v", c, want)
	}

	// Set fields are kept.
	set := Server{Listen: "[::1]:9000", DataDir: "/data", Region: "eu-west-1", LogLevel: "debug",
		IdleTimeout: Duration(time.Minute), PublicURL: "https://tether.example.com", SSHKeyTTL: Duration(time.Second)}
	got := set
	if err := got.CheckAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, set) {
		t.Errorf("CheckAndSetDefaults changed %+v to %+v", set, got)
	}
}

func TestCheckAndSetDefaultsValidates(t *testing.T) {
	tests := []struct {
		name    string
		c       Server
		wantErr []string // substrings; nil means valid
	}{
		{name: "loopback v4", c: Server{Listen: "127.0.0.1:7443"}},
		{name: "loopback v6", c: Server{Listen: "[::1]:7443"}},
		{name: "localhost", c: Server{Listen: "localhost:7443"}},
		{name: "TLS on all interfaces", c: Server{Listen: "0.0.0.0:443", TLSCert: "c.pem", TLSKey: "k.pem"}},
		{name: "plain HTTP on all interfaces", c: Server{Listen: "0.0.0.0:7443"},
			wantErr: []string{"refusing plain HTTP on 0.0.0.0:7443", "tls_cert", "127.0.0.1"}},
		{name: "plain HTTP on empty host", c: Server{Listen: ":7443"}, wantErr: []string{"refusing plain HTTP"}},
		{name: "plain HTTP on a LAN address", c: Server{Listen: "192.168.1.10:7443"}, wantErr: []string{"refusing plain HTTP"}},
		{name: "plain HTTP on a host name", c: Server{Listen: "tether.example.com:7443"}, wantErr: []string{"refusing plain HTTP"}},
		{name: "tls_cert without tls_key", c: Server{TLSCert: "c.pem"}, wantErr: []string{"tls_cert and tls_key go together"}},
		{name: "tls_key without tls_cert", c: Server{TLSKey: "k.pem"}, wantErr: []string{"tls_cert and tls_key go together"}},
		{name: "bad log level", c: Server{LogLevel: "verbose"}, wantErr: []string{`log_level "verbose"`, "debug, info, warn or error"}},
		{name: "negative idle timeout", c: Server{IdleTimeout: Duration(-time.Second)}, wantErr: []string{"idle_timeout"}},
		{name: "listen without port", c: Server{Listen: "127.0.0.1"}, wantErr: []string{`listen "127.0.0.1"`, "host:port"}},
		{name: "public_url https", c: Server{PublicURL: "https://tether.example.com:8443/"}},
		{name: "public_url http", c: Server{PublicURL: "http://127.0.0.1:7443"}},
		{name: "public_url without scheme", c: Server{PublicURL: "tether.example.com"}, wantErr: []string{"public_url", "http(s) URL"}},
		{name: "public_url ftp", c: Server{PublicURL: "ftp://tether.example.com"}, wantErr: []string{"public_url"}},
		{name: "public_url without host", c: Server{PublicURL: "https://"}, wantErr: []string{"public_url"}},
		{name: "public_url unparsable", c: Server{PublicURL: "http://[::1"}, wantErr: []string{"public_url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.DataDir = t.TempDir()
			err := tt.c.CheckAndSetDefaults()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("CheckAndSetDefaults(%+v): %v", tt.c, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckAndSetDefaults(%+v) accepted it", tt.c)
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    Server
		wantErr []string
	}{
		{name: "empty file", yaml: ""},
		{name: "only a comment", yaml: "# nothing yet\n"},
		{name: "all keys", yaml: `listen: 0.0.0.0:443
data_dir: /var/lib/tether
region: eu-west-1
public_url: https://tether.example.com
tls_cert: /etc/tether/cert.pem
tls_key: /etc/tether/key.pem
log_level: debug
idle_timeout: 5m
`, want: Server{Listen: "0.0.0.0:443", DataDir: "/var/lib/tether", Region: "eu-west-1", PublicURL: "https://tether.example.com",
			TLSCert: "/etc/tether/cert.pem", TLSKey: "/etc/tether/key.pem", LogLevel: "debug", IdleTimeout: Duration(5 * time.Minute)}},
		{name: "compound duration", yaml: "idle_timeout: 1h30m\n", want: Server{IdleTimeout: Duration(90 * time.Minute)}},
		{name: "unknown key", yaml: "listen: 127.0.0.1:7443\nlisten_addr: 0.0.0.0:1\n", wantErr: []string{"line 2", "listen_addr"}},
		{name: "bad duration", yaml: "region: x\nidle_timeout: 5 minutes\n", wantErr: []string{"line 2", `"5 minutes"`, "20m"}},
		{name: "duration without unit", yaml: "idle_timeout: 300\n", wantErr: []string{"line 1", `"300"`}},
		{name: "not a mapping", yaml: "- listen\n", wantErr: []string{"line 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tetherd.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			var got Server
			err := LoadFile(path, &got)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("LoadFile = %+v; want %+v", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadFile accepted %q as %+v", tt.yaml, got)
			}
			for _, s := range append(tt.wantErr, path) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

func TestLoadFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.yaml")
	var c Server
	if err := LoadFile(path, &c); err == nil || !strings.Contains(err.Error(), "absent.yaml") {
		t.Errorf("LoadFile(missing) = %v; want an error naming the file", err)
	}
}

// The file only sets what it names: values already in the struct (the
// defaults a caller put there) survive.
func TestLoadFileOverlays(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tetherd.yaml")
	if err := os.WriteFile(path, []byte("region: eu-west-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Server{Listen: "127.0.0.1:1", Region: "us-east-1"}
	if err := LoadFile(path, &c); err != nil {
		t.Fatal(err)
	}
	if want := (Server{Listen: "127.0.0.1:1", Region: "eu-west-1"}); !reflect.DeepEqual(c, want) {
		t.Errorf("LoadFile = %+v; want %+v", c, want)
	}
}

func TestApplyEnv(t *testing.T) {
	file := Server{Listen: "127.0.0.1:7443", DataDir: "/file", Region: "us-east-1", PublicURL: "https://file.example.com",
		TLSCert: "file.crt", TLSKey: "file.key", LogLevel: "info", IdleTimeout: Duration(time.Minute)}
	tests := []struct {
		name    string
		env     map[string]string
		want    Server
		wantErr string
	}{
		{name: "no env keeps the file", env: nil, want: file},
		{name: "empty values keep the file", env: map[string]string{"TETHER_LISTEN": "", "TETHER_IDLE_TIMEOUT": ""}, want: file},
		{name: "every variable", env: map[string]string{
			"TETHER_LISTEN": "0.0.0.0:443", "TETHER_DATA_DIR": "/env", "TETHER_REGION": "eu-west-1",
			"TETHER_PUBLIC_URL": "https://env.example.com", "TETHER_TLS_CERT": "env.crt", "TETHER_TLS_KEY": "env.key",
			"TETHER_LOG_LEVEL": "debug", "TETHER_IDLE_TIMEOUT": "2h",
		}, want: Server{Listen: "0.0.0.0:443", DataDir: "/env", Region: "eu-west-1", PublicURL: "https://env.example.com",
			TLSCert: "env.crt", TLSKey: "env.key", LogLevel: "debug", IdleTimeout: Duration(2 * time.Hour)}},
		{name: "one variable", env: map[string]string{"TETHER_REGION": "ap-south-1"},
			want: func() Server { s := file; s.Region = "ap-south-1"; return s }()},
		{name: "bad duration", env: map[string]string{"TETHER_IDLE_TIMEOUT": "soon"}, wantErr: `TETHER_IDLE_TIMEOUT="soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := file
			err := ApplyEnv(&got, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ApplyEnv error = %v; want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ApplyEnv = %+v; want %+v", got, tt.want)
			}
		})
	}
}

// The documented order: env over file over defaults.
func TestFileThenEnvThenDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tetherd.yaml")
	if err := os.WriteFile(path, []byte("region: eu-west-1\nlog_level: warn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var c Server
	if err := LoadFile(path, &c); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TETHER_LOG_LEVEL": "error", "TETHER_DATA_DIR": t.TempDir()}
	if err := ApplyEnv(&c, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	if c.Region != "eu-west-1" || c.LogLevel != "error" || c.Listen != "127.0.0.1:7443" || c.DataDir != env["TETHER_DATA_DIR"] {
		t.Errorf("got %+v; want region from the file, log level and data dir from env, listen defaulted", c)
	}
}
