package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"

	"github.com/ollama/ollama/api"
)

// Sentinel errors, for errors.Is. Every error from a Client method that is not
// a context error wraps one of these or the server's own message in *Error.
var (
	// ErrUnavailable: the server could not be reached (refused, DNS, timeout).
	ErrUnavailable = errors.New("ollama is unavailable")
	// ErrModelNotFound: the model is not installed on the server.
	ErrModelNotFound = errors.New("model not found")
	// ErrStreamCut: a streamed answer ended before Ollama said it was done.
	ErrStreamCut = errors.New("answer stream cut off")
	// ErrPullFailed: a model could not be downloaded (often: no network).
	ErrPullFailed = errors.New("model download failed")
	// ErrUnsupported: the model lacks a capability the request needs
	// (tools, embeddings, completion).
	ErrUnsupported = errors.New("model does not support this request")
)

// Error is what Client methods return on failure: which operation, against
// which server and model, the sentinel kind, and the underlying error.
type Error struct {
	Op    string // "chat", "embed", "show", "pull", ...
	URL   string // the server
	Model string // may be empty
	Kind  error  // one of the sentinels, or nil for other server errors
	Err   error  // what the api client or the network said
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("ollama ")
	b.WriteString(e.Op)
	if e.Model != "" {
		fmt.Fprintf(&b, " %q", e.Model)
	}
	if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(e.Kind.Error())
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap exposes both the sentinel and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// notFoundRE matches Ollama's wordings: `model "x" not found, try pulling it
// first` (chat, embed) and `model 'x' not found` (show, delete).
var notFoundRE = regexp.MustCompile(`model ["']?([^"']*)["']? not found`)

// fail maps err from the api client into *Error. A cancelled or expired ctx
// wins: the caller asked for it, so it is returned as is.
func (c *Client) fail(ctx context.Context, op, model string, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || isTransport(err)) {
		return ctxErr
	}
	e := &Error{Op: op, URL: c.URL(), Model: model, Err: err, Kind: classify(err)}
	if e.Kind == ErrModelNotFound && e.Model == "" {
		if m := notFoundRE.FindStringSubmatch(err.Error()); m != nil {
			e.Model = m[1]
		}
	}
	return e
}

func classify(err error) error {
	if isTransport(err) {
		return ErrUnavailable
	}
	msg := err.Error()
	var se api.StatusError
	if errors.As(err, &se) {
		msg = se.ErrorMessage
		if se.StatusCode == http.StatusNotFound && (msg == "" || strings.Contains(msg, "not found")) {
			return ErrModelNotFound
		}
		if se.StatusCode == http.StatusBadGateway {
			return ErrUnavailable // a proxy in front of Ollama could not reach it
		}
	}
	// The api client returns a plain errors.New(message) when a streamed
	// response carries {"error": ...}, whatever the status: match the text.
	switch {
	case notFoundRE.MatchString(msg), strings.Contains(msg, "not found, try pulling"):
		return ErrModelNotFound
	case strings.Contains(msg, "does not support"):
		return ErrUnsupported
	}
	return nil
}

// isTransport reports whether err means the server was never reached or the
// connection failed before an answer: refused, DNS, timeouts, resets.
func isTransport(err error) bool {
	var (
		opErr  *net.OpError
		dnsErr *net.DNSError
		netErr net.Error
	)
	switch {
	case errors.As(err, &dnsErr), errors.As(err, &opErr):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return true
	case errors.As(err, &netErr) && netErr.Timeout():
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true // the server closed the connection before answering
	}
	return false
}

// Sentence turns an error from this package into one sentence that says what
// happened and what the user can do next. It never returns a stack or a Go
// type name; for errors from elsewhere it returns err's own text.
func Sentence(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, context.Canceled) {
		return "Stopped."
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "Ollama took too long to answer — try again, or choose a smaller model."
	}
	var e *Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	model := e.Model
	switch {
	case errors.Is(err, ErrUnavailable):
		return fmt.Sprintf("Ollama is not reachable at %s — start it with `ollama serve`.", e.URL)
	case errors.Is(err, ErrModelNotFound) && e.Op == "pull":
		return fmt.Sprintf("The model %q does not exist in the Ollama library — check the name, or import a GGUF file you have: put `FROM ./file.gguf` in a Modelfile and run `ollama create %s -f Modelfile`.", model, nameOr(model))
	case errors.Is(err, ErrModelNotFound):
		return fmt.Sprintf("The model %q is not installed — run `ollama pull %s` or choose another model.", model, nameOr(model))
	case errors.Is(err, ErrStreamCut):
		return fmt.Sprintf("The answer stream from %s was cut off before it finished — check that Ollama is still running (it may have run out of memory) and ask again.", nameOr(model))
	case errors.Is(err, ErrPullFailed):
		return fmt.Sprintf("Could not download %q: %s — on a machine without internet, import a GGUF file instead: put `FROM ./file.gguf` in a Modelfile and run `ollama create %s -f Modelfile`.", model, pullReason(e.Err), nameOr(model))
	case errors.Is(err, ErrUnsupported):
		what := "this request"
		if _, after, ok := strings.Cut(e.Err.Error(), "does not support "); ok {
			what = strings.TrimSpace(after)
		}
		return fmt.Sprintf("The model %q does not support %s — choose a model that does (see its capabilities in the model list).", model, what)
	}
	return fmt.Sprintf("Ollama reported an error: %s.", strings.TrimSuffix(e.Err.Error(), "."))
}

func nameOr(model string) string {
	if model == "" {
		return "MODEL"
	}
	return model
}

// pullReason says in a few words why a pull failed.
func pullReason(err error) string {
	if err == nil {
		return "the download failed"
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "no such host"), strings.Contains(msg, "lookup "), strings.Contains(msg, "server misbehaving"):
		return "the Ollama registry (registry.ollama.ai) cannot be reached from this machine (no network or DNS)"
	case strings.Contains(msg, "connection refused"), strings.Contains(msg, "i/o timeout"), strings.Contains(msg, "network is unreachable"):
		return "the Ollama registry cannot be reached from this machine"
	case strings.Contains(msg, "no space left"):
		return "the disk is full"
	}
	return "Ollama said: " + msg
}
