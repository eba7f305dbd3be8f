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
	"unicode"
	"unicode/utf8"
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
		var blocked *BlockedAddressError
		var redirect *RedirectError
		switch {
		// Trying these again would be refused again.
		case errors.As(err, &blocked):
			return fmt.Errorf("cannot reach %s: %w", req.URL.Host, blocked)
		case errors.As(err, &redirect):
			return fmt.Errorf("cannot reach %s: %w", req.URL.Host, redirect)
		}
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

// maxEcho bounds the platform's text kept in an error, which the hub
// shows the channel's publisher.
const maxEcho = 300

// short is a platform's answer as it may appear in an error: an HTML page
// (a proxy's or a server's error page) is not repeated, and the rest is
// cleaned and cut.
func short(b []byte) string {
	t := strings.TrimSpace(string(b[:min(len(b), 4*maxEcho)]))
	if l := strings.ToLower(t); strings.HasPrefix(l, "<!doctype html") || strings.HasPrefix(l, "<html") ||
		strings.HasPrefix(l, "<") && strings.Contains(l, "<body") {
		return "(an HTML page)"
	}
	return Clean(t, maxEcho)
}

// Clean makes text from elsewhere fit to show on one line: invalid UTF-8
// and control characters become spaces, runs of spaces one, and it is cut
// at n bytes (on a character boundary) with an ellipsis.
func Clean(s string, n int) string {
	s = strings.ToValidUTF8(s, " ")
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if b.Len()+utf8.RuneLen(r) > n {
			return b.String() + "…"
		}
		b.WriteRune(r)
	}
	return b.String()
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
