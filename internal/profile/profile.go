// Package profile reads and writes the CLI profile (DESIGN.md D6): two files
// in the AWS shared-config format under $TETHER_CONFIG_DIR (default
// ~/.config/tether): `credentials` (aws_access_key_id, aws_secret_access_key)
// and `config` (endpoint_url, region), so the AWS CLI and SDKs can use them
// too. It resolves the endpoint and credentials the CLI uses: flag, then
// environment, then the profile file. Standard library only.
package profile

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Dir returns the profile directory.
func Dir() (string, error) {
	if d := os.Getenv("TETHER_CONFIG_DIR"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the home directory (set TETHER_CONFIG_DIR): %w", err)
	}
	return filepath.Join(home, ".config", "tether"), nil
}

// Profile is one named profile's settings.
type Profile struct {
	Name            string
	Endpoint        string
	Region          string
	AccessKeyID     string
	SecretAccessKey string
}

// section name as each file spells it: credentials uses [NAME], config uses
// [default] or [profile NAME].
func configSection(name string) string {
	if name == "default" {
		return "default"
	}
	return "profile " + name
}

// ini is a parsed INI file: section → key → value, in file order.
type ini struct {
	order []string
	data  map[string]map[string]string
}

func readINI(path string) (*ini, error) {
	f := &ini{data: map[string]map[string]string{}}
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	sec := ""
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("%s:%d: unterminated section header", path, n)
			}
			sec = strings.TrimSpace(line[1 : len(line)-1])
			if f.data[sec] == nil {
				f.data[sec] = map[string]string{}
				f.order = append(f.order, sec)
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || sec == "" {
			continue // nested or stray lines are not ours to judge
		}
		f.data[sec][strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return f, sc.Err()
}

func (f *ini) set(sec, k, v string) {
	if f.data[sec] == nil {
		f.data[sec] = map[string]string{}
		f.order = append(f.order, sec)
	}
	f.data[sec][k] = v
}

func (f *ini) write(path string) error {
	var b strings.Builder
	for _, sec := range f.order {
		fmt.Fprintf(&b, "[%s]\n", sec)
		keys := make([]string, 0, len(f.data[sec]))
		for k := range f.data[sec] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s = %s\n", k, f.data[sec][k])
		}
		b.WriteString("\n")
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Load reads profile name from dir (empty fields where absent).
func Load(dir, name string) (Profile, error) {
	p := Profile{Name: name}
	creds, err := readINI(filepath.Join(dir, "credentials"))
	if err != nil {
		return p, err
	}
	cfg, err := readINI(filepath.Join(dir, "config"))
	if err != nil {
		return p, err
	}
	p.AccessKeyID = creds.data[name]["aws_access_key_id"]
	p.SecretAccessKey = creds.data[name]["aws_secret_access_key"]
	p.Endpoint = cfg.data[configSection(name)]["endpoint_url"]
	p.Region = cfg.data[configSection(name)]["region"]
	return p, nil
}

// Save writes p into dir (mode 0700, files 0600), keeping other profiles.
func Save(dir string, p Profile) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	credPath, cfgPath := filepath.Join(dir, "credentials"), filepath.Join(dir, "config")
	creds, err := readINI(credPath)
	if err != nil {
		return err
	}
	cfg, err := readINI(cfgPath)
	if err != nil {
		return err
	}
	creds.set(p.Name, "aws_access_key_id", p.AccessKeyID)
	creds.set(p.Name, "aws_secret_access_key", p.SecretAccessKey)
	cfg.set(configSection(p.Name), "endpoint_url", p.Endpoint)
	cfg.set(configSection(p.Name), "region", p.Region)
	if err := creds.write(credPath); err != nil {
		return err
	}
	return cfg.write(cfgPath)
}

// Resolve returns the settings the CLI uses: flag values win, then
// TETHER_ENDPOINT / TETHER_ACCESS_KEY_ID / TETHER_SECRET_ACCESS_KEY /
// TETHER_REGION, then the profile file.
func Resolve(name, endpointFlag string) (Profile, error) {
	if name == "" {
		name = os.Getenv("TETHER_PROFILE")
	}
	if name == "" {
		name = "default"
	}
	dir, err := Dir()
	if err != nil {
		return Profile{}, err
	}
	p, err := Load(dir, name)
	if err != nil {
		return Profile{}, err
	}
	if v := os.Getenv("TETHER_ENDPOINT"); v != "" {
		p.Endpoint = v
	}
	if endpointFlag != "" {
		p.Endpoint = endpointFlag
	}
	if id, sec := os.Getenv("TETHER_ACCESS_KEY_ID"), os.Getenv("TETHER_SECRET_ACCESS_KEY"); id != "" && sec != "" {
		p.AccessKeyID, p.SecretAccessKey = id, sec
	}
	if v := os.Getenv("TETHER_REGION"); v != "" {
		p.Region = v
	}
	if p.Region == "" {
		p.Region = "us-east-1"
	}
	if p.Endpoint == "" {
		return p, fmt.Errorf("no endpoint: pass --endpoint-url, set TETHER_ENDPOINT, or run `tetherd dev` to write the %q profile in %s", name, dir)
	}
	if p.AccessKeyID == "" || p.SecretAccessKey == "" {
		return p, fmt.Errorf("no credentials: set TETHER_ACCESS_KEY_ID and TETHER_SECRET_ACCESS_KEY, or add profile %q to %s", name, filepath.Join(dir, "credentials"))
	}
	return p, nil
}
