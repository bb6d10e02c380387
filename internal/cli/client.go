package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/profile"
	"github.com/tetherhq/tether/internal/sigv4"
)

// Client calls Tether's API with SigV4-signed awsJson1_1 requests.
type Client struct {
	Profile profile.Profile
	HTTP    *http.Client
}

// Call invokes target (e.g. "AmazonSSM.StartSession") with in, decoding the
// answer into out. API failures are *api.Error.
func (c *Client) Call(ctx context.Context, target string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.Profile.Endpoint, "/")+"/", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("bad endpoint %q: %w", c.Profile.Endpoint, err)
	}
	req.Header.Set("Content-Type", api.ContentType)
	req.Header.Set("X-Amz-Target", target)
	if err := sigv4.Sign(req, body, sigv4.Credentials{AccessKeyID: c.Profile.AccessKeyID, SecretAccessKey: c.Profile.SecretAccessKey},
		c.Profile.Region, "ssm", time.Now()); err != nil {
		return err
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("could not reach %s: %w (is tetherd running?)", c.Profile.Endpoint, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		json.Unmarshal(rb, &e)
		if e.Type == "" {
			e.Type = resp.Header.Get("X-Amzn-ErrorType")
		}
		if e.Type == "" {
			return fmt.Errorf("%s answered %s", c.Profile.Endpoint, resp.Status)
		}
		if i := strings.LastIndex(e.Type, "#"); i >= 0 {
			e.Type = e.Type[i+1:]
		}
		return &api.Error{Status: resp.StatusCode, Code: e.Type, Message: e.Message}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(rb, out); err != nil {
		return fmt.Errorf("unexpected answer from %s: %w", c.Profile.Endpoint, err)
	}
	return nil
}
