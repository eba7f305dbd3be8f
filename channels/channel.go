// Package channels answers a published agent's end users on messaging
// platforms (WeChat Official Accounts, WeChat Customer Service through WeCom,
// Feishu/Lark, DingTalk, Telegram, Slack and WhatsApp).
//
// Each platform is one Adapter in its own folder, registered by kind: it
// verifies and parses a callback into Messages, answers the platform's
// verification handshake, and sends one Reply. Everything the platforms
// share is written once in this package: deduplication by the platform's
// message ID, acknowledging within the platform's deadline and answering
// asynchronously, access-token caching, per-channel status, and secrets
// sealed at rest.
package channels

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Kind names a platform.
type Kind string

// The kinds this package knows (each registered by its own package).
const (
	WeChatOA Kind = "wechat-oa"
	WeComKF  Kind = "wecom-kf"
	Feishu   Kind = "feishu"
	DingTalk Kind = "dingtalk"
	Telegram Kind = "telegram"
	Slack    Kind = "slack"
	WhatsApp Kind = "whatsapp"
)

// Message is one end user's message, parsed from a verified callback.
type Message struct {
	ID   string // the platform's message ID: the deduplication key
	User string // the platform's user ID (the end-user key is Kind:User)
	Text string
	// Chat is where the reply goes: a chat, channel, conversation or
	// customer-service account; "" means the user themself.
	Chat string
	// Thread is the message or thread to answer in, where the platform
	// threads replies (Feishu reply, Slack thread_ts).
	Thread string
	// ReplyURL is a per-conversation send address the platform hands out
	// (DingTalk's sessionWebhook), trusted only because the callback was
	// verified.
	ReplyURL string
	Time     time.Time
}

// Reply is an answer to send back.
type Reply struct {
	Text      string   // Markdown; each adapter converts or flattens it
	Sources   []Source // shown as one short source line
	Followups []string // quick replies where the platform has them, numbered text otherwise
	// Ref names the answer for votes on it (see VoteAnswerer); "" offers
	// none. At most MaxRef bytes.
	Ref string
}

// Source is one citation of an answer.
type Source struct {
	Title string // a document name
	Page  int    // 0: none
	URL   string // the hub's page for the passage, if any
}

// Callback is what an adapter made of one HTTP request from its platform.
type Callback struct {
	// Messages to answer (deduplicated by the dispatcher).
	Messages []Message
	// Fetch, when set, pulls the messages the callback only announced
	// (WeCom's sync_msg). It runs after the acknowledgement.
	Fetch func(ctx context.Context) ([]Message, error)
	// Votes to record (deduplicated by the dispatcher) before the
	// acknowledgement.
	Votes []Vote
	// VoteAck, when set, makes the acknowledgement of a callback with one
	// vote from what became of it (Telegram's answerCallbackQuery in the
	// webhook's response); it replaces ContentType and Body.
	VoteAck func(VoteResult) (contentType string, body []byte)
	// The acknowledgement: Status 0 means 200; a nil Body writes nothing.
	Status      int
	ContentType string
	Body        []byte
}

// Adapter is one configured channel on one platform.
type Adapter interface {
	// Receive verifies one callback (its signature, timestamp window and
	// decryption) and parses it. It returns ErrUnauthorized for a request
	// that does not come from the platform, and must not call the network:
	// the acknowledgement depends on it.
	Receive(r *http.Request, body []byte) (Callback, error)
	// Send delivers a reply to where msg came from (splitting it at the
	// platform's limit). For a test message only User (and Chat) are set.
	Send(ctx context.Context, msg Message, reply Reply) error
}

// TokenHolder is an adapter that uses a platform access token; its expiry is
// part of the channel's status.
type TokenHolder interface {
	TokenExpiry() time.Time
}

// ErrUnauthorized marks a callback whose signature, token or timestamp does
// not check out: it is answered 401 and nothing is stored or answered.
var ErrUnauthorized = errors.New("the request is not signed by the platform")

// Unauthorized wraps a reason as ErrUnauthorized.
func Unauthorized(reason string) error { return fmt.Errorf("%w: %s", ErrUnauthorized, reason) }

// ErrBadRequest marks a callback that is signed but cannot be read.
var ErrBadRequest = errors.New("the request cannot be read")

// BadRequest wraps a reason as ErrBadRequest.
func BadRequest(reason string) error { return fmt.Errorf("%w: %s", ErrBadRequest, reason) }

// Declined is an Answerer's refusal with something to tell the end user
// (a quota used up, say): the dispatcher sends Text instead of the
// SorryText and records Err as the channel's last error.
type Declined struct {
	Text string
	Err  error
}

func (d *Declined) Error() string { return d.Err.Error() }
func (d *Declined) Unwrap() error { return d.Err }

// retryable marks a send failure worth another try (network, 5xx, 429).
type retryable struct{ error }

func (r retryable) Unwrap() error { return r.error }

// Retryable marks err as transient: the dispatcher tries the send again.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return retryable{err}
}

// IsRetryable reports whether err was marked Retryable.
func IsRetryable(err error) bool {
	var r retryable
	return errors.As(err, &r)
}

// Field describes one setting of a kind.
type Field struct {
	Key      string
	Secret   bool // sealed at rest, never returned, masked in the window
	Required bool
	Help     string
}

// Config configures one channel. Settings holds the kind's fields (secrets
// included, in the clear: this is the unsealed form).
type Config struct {
	ID        string
	Kind      Kind
	Workspace string
	Agent     string
	// APIBase replaces the platform's API origin (a local Telegram Bot API
	// server, a corporate proxy, a test's fake); "" is the platform's own.
	APIBase  string
	Settings map[string]string
	// Tenant marks a channel a workspace's publisher added through the
	// hub's API (not the operator's CLI): its api_base must be one the
	// operator allows, and it reaches no private address (Client).
	Tenant bool
}

// Env is what a factory builds an adapter from.
type Env struct {
	Config
	HTTP *http.Client
	Now  func() time.Time
}

// Base is the API origin the adapter calls: APIBase or def, without a
// trailing slash.
func (e Env) Base(def string) string {
	if e.APIBase != "" {
		return strings.TrimRight(e.APIBase, "/")
	}
	return def
}

// Factory builds adapters of one kind.
type Factory struct {
	Kind   Kind
	Fields []Field
	// Ack is the platform's acknowledgement deadline; the dispatcher
	// answers every callback well inside it.
	Ack time.Duration
	// Webhook tells the user where to paste the webhook URL.
	Webhook string
	New     func(Env) (Adapter, error)
}

var (
	regMu     sync.RWMutex
	factories = map[Kind]Factory{}
)

// Register adds a kind; the platform packages call it from init.
func Register(f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := factories[f.Kind]; dup {
		panic("channels: kind registered twice: " + string(f.Kind))
	}
	factories[f.Kind] = f
}

// Lookup returns the factory of a kind.
func Lookup(k Kind) (Factory, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	f, ok := factories[k]
	return f, ok
}

// Kinds lists the registered kinds, sorted.
func Kinds() []Kind {
	regMu.RLock()
	defer regMu.RUnlock()
	ks := make([]Kind, 0, len(factories))
	for k := range factories {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// MissingError is a config without some of its kind's required settings.
// Its text names them in the words of the setting keys; the command line
// adds the flag that gives one.
type MissingError struct {
	Kind    Kind
	Missing []string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("a %s channel needs %s", e.Kind, strings.Join(e.Missing, ", "))
}

// Validate checks a config against its kind's fields: the kind exists,
// required settings are present and no setting is unknown.
func Validate(cfg Config) (Factory, error) {
	f, ok := Lookup(cfg.Kind)
	if !ok {
		names := make([]string, 0)
		for _, k := range Kinds() {
			names = append(names, string(k))
		}
		return f, fmt.Errorf("there is no channel kind %q; use one of %s", cfg.Kind, strings.Join(names, ", "))
	}
	known := map[string]bool{}
	var missing []string
	for _, fl := range f.Fields {
		known[fl.Key] = true
		if fl.Required && strings.TrimSpace(cfg.Settings[fl.Key]) == "" {
			missing = append(missing, fl.Key)
		}
	}
	if len(missing) > 0 {
		return f, &MissingError{Kind: cfg.Kind, Missing: missing}
	}
	var unknown []string
	for k := range cfg.Settings {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		keys := make([]string, 0, len(f.Fields))
		for _, fl := range f.Fields {
			keys = append(keys, fl.Key)
		}
		return f, fmt.Errorf("a %s channel has no setting %q; its settings are %s", cfg.Kind, unknown[0], strings.Join(keys, ", "))
	}
	if cfg.APIBase != "" && !strings.HasPrefix(cfg.APIBase, "http://") && !strings.HasPrefix(cfg.APIBase, "https://") {
		return f, fmt.Errorf("api_base %q must start with http:// or https://", cfg.APIBase)
	}
	return f, nil
}
