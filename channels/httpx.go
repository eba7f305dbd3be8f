package channels

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxResponse bounds what is read of a platform's API answer.
const maxResponse = 1 << 20

// CallJSON sends a JSON request (body nil: no body) and decodes a JSON
// answer into out. Network failures, 429 and 5xx come back Retryable; the
// platform's error text is kept short.
func CallJSON(ctx context.Context, c *http.Client, method, url string, header http.Header, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	resp, err := c.Do(req)
	if err != nil {
		return Retryable(fmt.Errorf("cannot reach %s: %w", req.URL.Host, err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return Retryable(fmt.Errorf("reading the answer of %s: %w", req.URL.Host, err))
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return Retryable(fmt.Errorf("%s answered %s: %s", req.URL.Host, resp.Status, short(raw)))
	}
	if resp.StatusCode >= 300 {
		// Decode anyway: some platforms explain errors in JSON the
		// caller wants to read (an expired token).
		if out != nil {
			_ = json.Unmarshal(raw, out)
		}
		return &HTTPError{Status: resp.StatusCode, Body: short(raw)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s answered something that is not JSON: %s", req.URL.Host, short(raw))
	}
	return nil
}

// HTTPError is a platform's non-2xx answer.
type HTTPError struct {
	Status int
	Body   string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("the platform answered HTTP %d: %s", e.Status, e.Body)
}

func short(b []byte) string {
	const n = 300
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// Redact replaces secret (a token in a URL) in err's text, keeping whether
// it is retryable.
func Redact(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	red := errors.New(strings.ReplaceAll(err.Error(), secret, "<secret>"))
	if IsRetryable(err) {
		return Retryable(red)
	}
	return red
}
