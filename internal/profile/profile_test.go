package profile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var (
	devProfile = Profile{Name: "default", Endpoint: "http://127.0.0.1:7443", Region: "us-east-1",
		AccessKeyID: "AKIADEFAULT000000001", SecretAccessKey: "secret-default"}
	prodProfile = Profile{Name: "prod", Endpoint: "https://tether.example.com", Region: "eu-west-1",
		AccessKeyID: "AKIAPROD000000000001", SecretAccessKey: "secret-prod"}
)

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, p := range []Profile{devProfile, prodProfile} {
		t.Run(p.Name, func(t *testing.T) {
			dir := t.TempDir()
			if err := Save(dir, p); err != nil {
				t.Fatal(err)
			}
			got, err := Load(dir, p.Name)
			if err != nil {
				t.Fatal(err)
			}
			if got != p {
				t.Errorf("Load = %+v; want %+v", got, p)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	got, err := Load(t.TempDir(), "default")
	if err != nil || got != (Profile{Name: "default"}) {
		t.Errorf("Load from an empty dir = %+v, %v; want an empty profile and no error", got, err)
	}
}

func TestSaveKeepsOtherProfiles(t *testing.T) {
	dir := t.TempDir()
	if err := Save(dir, devProfile); err != nil {
		t.Fatal(err)
	}
	if err := Save(dir, prodProfile); err != nil {
		t.Fatal(err)
	}
	changed := devProfile
	changed.SecretAccessKey = "rotated"
	if err := Save(dir, changed); err != nil {
		t.Fatal(err)
	}
	for _, want := range []Profile{changed, prodProfile} {
		got, err := Load(dir, want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("Load(%q) = %+v; want %+v", want.Name, got, want)
		}
	}
	// Keys the AWS CLI added by hand survive a rewrite.
	cfg := filepath.Join(dir, "config")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, append(b, "[profile other]\noutput = json\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Save(dir, devProfile); err != nil {
		t.Fatal(err)
	}
	f, err := readINI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.data["profile other"]["output"]; got != "json" {
		t.Errorf("after Save, [profile other] output = %q; want json", got)
	}
}

func TestSaveModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "tether")
	if err := Save(dir, devProfile); err != nil {
		t.Fatal(err)
	}
	// A file left readable by an older tool is tightened by the rewrite.
	if err := os.Chmod(filepath.Join(dir, "credentials"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Save(dir, prodProfile); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want os.FileMode
	}{
		{dir, 0o700 | os.ModeDir},
		{filepath.Join(dir, "credentials"), 0o600},
		{filepath.Join(dir, "config"), 0o600},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			st, err := os.Stat(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode() != tt.want {
				t.Errorf("mode %v; want %v", st.Mode(), tt.want)
			}
		})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "credentials" && e.Name() != "config" {
			t.Errorf("Save left %s behind", e.Name())
		}
	}
}

// The files must read the way the AWS CLI reads them: credentials uses
// [NAME], config uses [default] or [profile NAME].
func TestFilesAreAWSSharedConfig(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []Profile{devProfile, prodProfile} {
		if err := Save(dir, p); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		file, section, key, want string
	}{
		{"credentials", "default", "aws_access_key_id", devProfile.AccessKeyID},
		{"credentials", "default", "aws_secret_access_key", devProfile.SecretAccessKey},
		{"credentials", "prod", "aws_access_key_id", prodProfile.AccessKeyID},
		{"config", "default", "endpoint_url", devProfile.Endpoint},
		{"config", "default", "region", devProfile.Region},
		{"config", "profile prod", "endpoint_url", prodProfile.Endpoint},
		{"config", "profile prod", "region", prodProfile.Region},
	}
	sections := map[string]map[string]map[string]string{}
	for _, file := range []string{"credentials", "config"} {
		sections[file] = parseAWSINI(t, filepath.Join(dir, file))
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.section+"/"+tt.key, func(t *testing.T) {
			if got := sections[tt.file][tt.section][tt.key]; got != tt.want {
				t.Errorf("[%s] %s = %q; want %q", tt.section, tt.key, got, tt.want)
			}
		})
	}
	for _, bad := range []struct{ file, section string }{{"credentials", "profile prod"}, {"config", "prod"}, {"config", "profile default"}} {
		if _, ok := sections[bad.file][bad.section]; ok {
			t.Errorf("%s has a [%s] section, which the AWS CLI ignores", bad.file, bad.section)
		}
	}
}

// parseAWSINI reads path independently of readINI, the way botocore does:
// "[section]" headers and "key = value" lines, nothing else.
func parseAWSINI(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	var sec string
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case line == "":
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			sec = line[1 : len(line)-1]
			out[sec] = map[string]string{}
		default:
			k, v, ok := strings.Cut(line, " = ")
			if !ok || sec == "" || strings.HasPrefix(line, " ") {
				t.Fatalf("%s:%d: %q is not a key = value line in a section", path, i+1, line)
			}
			out[sec][k] = v
		}
	}
	return out
}

// resolveEnv points Dir at a fresh directory and clears every variable
// Resolve reads, so the developer's shell cannot leak into the test.
func resolveEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("TETHER_CONFIG_DIR", dir)
	for _, k := range []string{"TETHER_PROFILE", "TETHER_ENDPOINT", "TETHER_REGION", "TETHER_ACCESS_KEY_ID", "TETHER_SECRET_ACCESS_KEY"} {
		t.Setenv(k, "")
	}
	return dir
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name    string
		saved   []Profile
		env     map[string]string
		profile string
		flag    string
		want    Profile
		wantErr []string // substrings of the error
	}{
		{name: "file only", saved: []Profile{devProfile}, want: devProfile},
		{name: "named profile", saved: []Profile{devProfile, prodProfile}, profile: "prod", want: prodProfile},
		{name: "TETHER_PROFILE names the profile", saved: []Profile{devProfile, prodProfile},
			env: map[string]string{"TETHER_PROFILE": "prod"}, want: prodProfile},
		{name: "env endpoint beats file", saved: []Profile{devProfile},
			env:  map[string]string{"TETHER_ENDPOINT": "http://127.0.0.1:9999"},
			want: with(devProfile, func(p *Profile) { p.Endpoint = "http://127.0.0.1:9999" })},
		{name: "flag beats env and file", saved: []Profile{devProfile},
			env: map[string]string{"TETHER_ENDPOINT": "http://127.0.0.1:9999"}, flag: "http://127.0.0.1:1234",
			want: with(devProfile, func(p *Profile) { p.Endpoint = "http://127.0.0.1:1234" })},
		{name: "env credentials beat file", saved: []Profile{devProfile},
			env:  map[string]string{"TETHER_ACCESS_KEY_ID": "AKIAENV", "TETHER_SECRET_ACCESS_KEY": "env-secret"},
			want: with(devProfile, func(p *Profile) { p.AccessKeyID, p.SecretAccessKey = "AKIAENV", "env-secret" })},
		{name: "half the env credentials are not mixed with the file", saved: []Profile{devProfile},
			env:  map[string]string{"TETHER_ACCESS_KEY_ID": "AKIAENV"},
			want: devProfile},
		{name: "env region beats file", saved: []Profile{devProfile},
			env:  map[string]string{"TETHER_REGION": "ap-south-1"},
			want: with(devProfile, func(p *Profile) { p.Region = "ap-south-1" })},
		{name: "region defaults", saved: []Profile{with(devProfile, func(p *Profile) { p.Region = "" })}, want: devProfile},
		{name: "everything from env and flag", flag: "http://127.0.0.1:1234",
			env:  map[string]string{"TETHER_ACCESS_KEY_ID": "AKIAENV", "TETHER_SECRET_ACCESS_KEY": "env-secret"},
			want: Profile{Name: "default", Endpoint: "http://127.0.0.1:1234", Region: "us-east-1", AccessKeyID: "AKIAENV", SecretAccessKey: "env-secret"}},
		{name: "no endpoint",
			env:     map[string]string{"TETHER_ACCESS_KEY_ID": "AKIAENV", "TETHER_SECRET_ACCESS_KEY": "env-secret"},
			wantErr: []string{"no endpoint", "--endpoint-url", "TETHER_ENDPOINT", "tetherd dev"}},
		{name: "no credentials", flag: "http://127.0.0.1:1234",
			wantErr: []string{"no credentials", "TETHER_ACCESS_KEY_ID", "TETHER_SECRET_ACCESS_KEY", "credentials"}},
		{name: "unknown profile", saved: []Profile{devProfile}, profile: "staging",
			wantErr: []string{"no endpoint", `"staging"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := resolveEnv(t)
			for _, p := range tt.saved {
				if err := Save(dir, p); err != nil {
					t.Fatal(err)
				}
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got, err := Resolve(tt.profile, tt.flag)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("Resolve = %+v; want an error", got)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Resolve = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestResolveBadFile(t *testing.T) {
	dir := resolveEnv(t)
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte("[default\nregion = x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve("", "http://127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "config:1: unterminated section header") {
		t.Errorf("Resolve with a broken config = %v; want the file and line", err)
	}
}

func with(p Profile, f func(*Profile)) Profile {
	f(&p)
	return p
}
