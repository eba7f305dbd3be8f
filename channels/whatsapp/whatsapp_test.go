package whatsapp_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/whatsapp"
)

const (
	token     = "EAAJB-access-token"
	appSecret = "meta-app-secret"
	verify    = "my-verify-token"
	phoneID   = "106540352242922"
)

// fakeGraph is POST /v21.0/{phone-number-id}/messages with a Bearer token:
// {"messaging_product":"whatsapp","contacts":[…],"messages":[{"id":"wamid…"}]},
// or 401 with an OAuthException for a bad token.
func fakeGraph(t *testing.T) (*httptest.Server, *channeltest.Calls[map[string]any]) {
	calls := &channeltest.Calls[map[string]any]{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v21.0/"+phoneID+"/messages" || r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190}}`)
			return
		}
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		calls.Add(m)
		fmt.Fprint(w, `{"messaging_product":"whatsapp","contacts":[{"input":"16315551234","wa_id":"16315551234"}],"messages":[{"id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3N0EyQUJDMjFEQzZCQUMzODMA"}]}`)
	}))
	t.Cleanup(srv.Close)
	return srv, calls
}

// notification is a text-message webhook as the Cloud API's webhook
// reference shows it.
func notification(n int, text string) string {
	return fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":%q},"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.HBgLMTY1MDM4NzkxMDIVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA%d","timestamp":"1749416383","type":"text","text":{"body":%q}}]},"field":"messages"}]}]}`, phoneID, n, text)
}

func setup(t *testing.T, a *channeltest.Answerer) (*channeltest.Hub, *channeltest.Calls[map[string]any]) {
	api, calls := fakeGraph(t)
	h := channeltest.NewHub(t, channels.Options{Answerer: a})
	if _, err := h.D.Add(channels.Config{ID: "wa", Kind: channels.WhatsApp, Agent: "baker", APIBase: api.URL,
		Settings: map[string]string{"access_token": token, "app_secret": appSecret, "verify_token": verify, "phone_number_id": phoneID}}); err != nil {
		t.Fatal(err)
	}
	return h, calls
}

func deliver(t testing.TB, h *channeltest.Hub, body, secret string) int {
	req, _ := http.NewRequest(http.MethodPost, h.URL("wa"), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", whatsapp.Sign(secret, []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestWhatsAppScenario(t *testing.T) {
	a := &channeltest.Answerer{}
	h, calls := setup(t, a)
	f, _ := channels.Lookup(channels.WhatsApp)
	channeltest.Run(t, h, "wa", a, channeltest.Platform{
		Ack: f.Ack,
		Deliver: func(t testing.TB, n int, forged bool) int {
			s := appSecret
			if forged {
				s = "other-secret"
			}
			return deliver(t, h, notification(n, channeltest.Question(n)), s)
		},
		Replies: func() []string {
			var out []string
			for _, c := range calls.All() {
				if c["to"] != "16505551234" || c["messaging_product"] != "whatsapp" || c["type"] != "text" {
					t.Errorf("message %v", c)
				}
				out = append(out, c["text"].(map[string]any)["body"].(string))
			}
			return out
		},
	})
}

func TestWhatsAppVerificationAndButtons(t *testing.T) {
	a := &channeltest.Answerer{Followups: []string{"Delivery?", "Vegan options?"}}
	h, calls := setup(t, a)
	q := url.Values{"hub.mode": {"subscribe"}, "hub.challenge": {"1158201444"}, "hub.verify_token": {verify}}
	resp, _ := http.Get(h.URL("wa") + "?" + q.Encode())
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "1158201444" {
		t.Errorf("verification: %d %q", resp.StatusCode, b)
	}
	q.Set("hub.verify_token", "wrong")
	resp, _ = http.Get(h.URL("wa") + "?" + q.Encode())
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("wrong verify token: %d", resp.StatusCode)
	}
	// A status update (no messages) and another number's message: nothing to answer.
	deliver(t, h, strings.Replace(notification(7, "other number"), phoneID, "999", 1), appSecret)
	deliver(t, h, notification(1, "**hi**"), appSecret)
	channeltest.WaitFor(t, "the reply", func() bool { return calls.Len() == 1 })
	c, _ := json.Marshal(calls.All()[0])
	if !strings.Contains(string(c), `"type":"interactive"`) || !strings.Contains(string(c), `"title":"Vegan options?"`) || !strings.Contains(string(c), `"text":"answer: *hi*"`) {
		t.Errorf("interactive message %s", c)
	}
	// The tapped button comes back as an interactive reply.
	tap := strings.Replace(notification(2, ""), `"type":"text","text":{"body":""}`, `"type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"f2","title":"Vegan options?"}}`, 1)
	deliver(t, h, tap, appSecret)
	channeltest.WaitFor(t, "the second reply", func() bool { return calls.Len() == 2 })
	qs := a.Questions()
	if len(qs) != 2 || qs[1].Text != "Vegan options?" {
		t.Errorf("questions %+v", qs)
	}
}
