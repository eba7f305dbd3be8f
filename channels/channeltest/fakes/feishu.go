package fakes

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/crypto"
)

// The fake Feishu app's credentials.
const (
	FeishuAppID      = "cli_9dbb2dd6f5e0d104"
	FeishuSecret     = "app-secret-abcdef"
	FeishuToken      = "l802sPhp2r1AMSPDTaJc5eYZOEnKyp" // the docs' sample Verification Token
	FeishuEncryptKey = "encrypt-key-123"
	FeishuOpenID     = "ou_84aad35d084aa403a838cf73ee18467"
	feishuMsgPrefix  = "om_5ce6d572455d361153b7cb51da13394"
)

// FeishuReply is one message reply call.
type FeishuReply struct {
	MessageID string // the message replied to
	Markdown  string
	SentID    string // the reply's own message_id
}

// Feishu is the documented tenant_access_token/internal
// ({"code":0,"tenant_access_token","expire":7200}) and message reply API
// (POST /open-apis/im/v1/messages/:message_id/reply, Bearer token,
// {"code":0}); an unknown token is code 99991663. With an Encrypt Key,
// events are AES-encrypted and signed (X-Lark-Signature: SHA-256 of
// timestamp, nonce, key and body).
type Feishu struct {
	clock
	platform
	Key  string // the Encrypt Key; "" sends plaintext events
	Sent channeltest.Calls[FeishuReply]

	tokens
}

// NewFeishu starts the fake; key is the app's Encrypt Key ("" for none).
func NewFeishu(t testing.TB, key string) *Feishu {
	f := &Feishu{Key: key, platform: platform{kind: channels.Feishu, user: FeishuOpenID, pull: false}}
	f.serve(t, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch {
		case r.URL.Path == "/open-apis/auth/v3/tenant_access_token/internal":
			var in map[string]string
			json.NewDecoder(r.Body).Decode(&in)
			if in["app_id"] != FeishuAppID || in["app_secret"] != FeishuSecret {
				fmt.Fprint(w, `{"code":10014,"msg":"app secret invalid"}`)
				return
			}
			fmt.Fprintf(w, `{"code":0,"msg":"ok","tenant_access_token":%q,"expire":7200}`, f.issue("t-"))
		case strings.HasPrefix(r.URL.Path, "/open-apis/im/v1/messages/") && strings.HasSuffix(r.URL.Path, "/reply"):
			if r.Header.Get("Authorization") != "Bearer "+f.valid {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"code":99991663,"msg":"Invalid access token for authorization. Please make a request with token attached."}`)
				return
			}
			var in struct {
				MsgType string `json:"msg_type"`
				Content string `json:"content"`
			}
			json.NewDecoder(r.Body).Decode(&in)
			var c struct {
				Elements []struct{ Tag, Content string } `json:"elements"`
			}
			if in.MsgType != "interactive" || json.Unmarshal([]byte(in.Content), &c) != nil || len(c.Elements) != 1 {
				fmt.Fprint(w, `{"code":230001,"msg":"bad content"}`)
				return
			}
			id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/open-apis/im/v1/messages/"), "/reply")
			sent := fmt.Sprintf("om_sent%d", f.Sent.Len()+1)
			f.Sent.Add(FeishuReply{MessageID: id, Markdown: c.Elements[0].Content, SentID: sent})
			// The reply comes back as the message it made, as documented.
			fmt.Fprintf(w, `{"code":0,"msg":"success","data":{"message_id":%q,"root_id":%q,"parent_id":%q,"msg_type":"interactive","chat_id":"oc_5ce6d572455d361153b7xx51da133945"}}`, sent, id, id)
		default:
			http.NotFound(w, r)
		}
	})
	return f
}

func (f *Feishu) Settings() map[string]string {
	s := map[string]string{"app_id": FeishuAppID, "app_secret": FeishuSecret, "verification_token": FeishuToken}
	if f.Key != "" {
		s["encrypt_key"] = f.Key
	}
	return s
}

// MessageEvent is im.message.receive_v1 in the v2 schema, as the event's
// documentation shows it, with Verification Token token.
func (f *Feishu) MessageEvent(n int, text, token string) string {
	content, _ := json.Marshal(map[string]string{"text": "@_user_1 " + text})
	return fmt.Sprintf(`{"schema":"2.0","header":{"event_id":"5e3702a84e847582be8db7fb73283c0%d","event_type":"im.message.receive_v1","create_time":"1608725989000","token":%q,"app_id":%q,"tenant_key":"2ca1d211f64f6438"},"event":{"sender":{"sender_id":{"union_id":"on_8ed6aa67826108097d9ee143816345","user_id":"e33ggbyz","open_id":%q},"sender_type":"user","tenant_key":"736588c9260f175e"},"message":{"message_id":"%s%d","chat_id":"oc_5ce6d572455d361153b7xx51da133945","chat_type":"group","message_type":"text","content":%q,"create_time":"1609073151345"}}}`,
		n, token, FeishuAppID, FeishuOpenID, feishuMsgPrefix, n, content)
}

// Post sends plain as Feishu does: with an Encrypt Key, encrypted and
// signed (with a wrong key when forged).
func (f *Feishu) Post(t testing.TB, webhook, plain string, forged bool) (int, string) {
	body := plain
	hdr := map[string]string{}
	if f.Key != "" {
		b, _ := json.Marshal(map[string]string{"encrypt": crypto.FeishuEncrypt(f.Key, []byte(plain))})
		body = string(b)
		ts, nonce := strconv.FormatInt(f.Now().Unix(), 10), "n"+strconv.Itoa(len(body))
		k := f.Key
		if forged {
			k = "wrong-key"
		}
		hdr["X-Lark-Request-Timestamp"] = ts
		hdr["X-Lark-Request-Nonce"] = nonce
		hdr["X-Lark-Signature"] = crypto.FeishuSignature(ts, nonce, k, []byte(body))
	}
	return post(t, webhook, "application/json", body, hdr)
}

// Deliver sends message n; forged signs with a wrong key, or without an
// Encrypt Key claims a wrong Verification Token.
func (f *Feishu) Deliver(t testing.TB, webhook string, n int, text string, forged bool) int {
	tok := FeishuToken
	if forged && f.Key == "" {
		tok = "forged"
	}
	st, _ := f.Post(t, webhook, f.MessageEvent(n, text, tok), forged)
	return st
}

// Replies are the card Markdown of replies to the fake's messages.
func (f *Feishu) Replies() []string {
	var out []string
	for _, r := range f.Sent.All() {
		if strings.HasPrefix(r.MessageID, feishuMsgPrefix) {
			out = append(out, r.Markdown)
		}
	}
	return out
}

// ReactionEvent is im.message.reaction.created_v1 (or deleted_v1) in the v2
// schema, as the event's documentation shows it: openID reacted with
// emojiType to messageID.
func (f *Feishu) ReactionEvent(n int, deleted bool, openID, messageID, emojiType string) string {
	typ := "im.message.reaction.created_v1"
	if deleted {
		typ = "im.message.reaction.deleted_v1"
	}
	return fmt.Sprintf(`{"schema":"2.0","header":{"event_id":"7f3702a84e847582be8db7fb73283d%02d","event_type":%q,"create_time":"1608725989000","token":%q,"app_id":%q,"tenant_key":"2ca1d211f64f6438"},"event":{"message_id":%q,"reaction_type":{"emoji_type":%q},"operator_type":"user","user_id":{"union_id":"on_8ed6aa67826108097d9ee143816345","user_id":"e33ggbyz","open_id":%q},"action_time":"1608725989000"}}`,
		n, typ, FeishuToken, FeishuAppID, messageID, emojiType, openID)
}

func (f *Feishu) Vote(t testing.TB, webhook string, n, i, rating int, remove, forged bool) int {
	return f.VoteAs(t, webhook, f.User(), n, i, rating, remove, forged)
}

// VoteAs adds (or removes) THUMBSUP or ThumbsDown on reply i as openID.
func (f *Feishu) VoteAs(t testing.TB, webhook, openID string, n, i, rating int, remove, forged bool) int {
	t.Helper()
	var sent []string
	for _, r := range f.Sent.All() {
		if strings.HasPrefix(r.MessageID, feishuMsgPrefix) {
			sent = append(sent, r.SentID)
		}
	}
	if i >= len(sent) {
		t.Fatalf("no reply %d to react to (%d sent)", i, len(sent))
	}
	emoji := "THUMBSUP"
	if rating < 0 {
		emoji = "ThumbsDown"
	}
	plain := f.ReactionEvent(n, remove, openID, sent[i], emoji)
	if forged && f.Key == "" {
		plain = strings.Replace(plain, FeishuToken, "forged", 1)
	}
	st, _ := f.Post(t, webhook, plain, forged)
	return st
}
