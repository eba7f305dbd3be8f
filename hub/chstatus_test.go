package hub

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"atoll/channels"
)

// postTelegram delivers a Telegram update to a hub's channel callback.
func postTelegram(t *testing.T, base, id, secret string, update int) {
	t.Helper()
	body := fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"chat":{"id":42,"type":"private"},"from":{"id":42},"text":"hello %d"}}`, update, update, update)
	req, _ := http.NewRequest("POST", base+"/ch/"+id, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
}

// waitStatus polls a replica's channel list until ok holds for the
// channel's status.
func waitStatus(t *testing.T, th *testHub, id string, ok func(channels.Status) bool, what string) channels.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st channels.Status
		for _, v := range th.listCh(t, th.tok, "/api/agents/baker/channels") {
			if v.ID == id {
				st = v.Status
			}
		}
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status %+v", what, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func statusReplica(t *testing.T, th *testHub, apiBase string) *testHub {
	t.Helper()
	h, err := New(Config{Dir: t.TempDir(), Store: th.h.st, ChannelAPIBases: []string{apiBase}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(h.Close)
	return &testHub{h: h, srv: srv, tok: th.tok, ws: th.ws}
}

// TestChannelStatusShared: replicas behind a load balancer report the
// same channel status: messages taken by one are counted in another's
// list, the counts outlive a replica's restart, and they go with the
// channel.
func TestChannelStatusShared(t *testing.T) {
	t.Setenv(channels.KeyEnv, strings.Repeat("ab", 32)) // replicas share the key
	tg, _ := fakeTelegram(t)
	a := newTestHubAllowing(t, tg.URL)
	b := statusReplica(t, a, tg.URL)
	code, body := a.as(t, a.tok, "POST", "/api/agents/baker/channels", telegramBody(tg.URL))
	if code != 200 {
		t.Fatalf("add: %d %s", code, body)
	}
	id := a.listCh(t, a.tok, "/api/agents/baker/channels")[0].ID
	postTelegram(t, a.srv.URL, id, chSecret, 1)
	postTelegram(t, a.srv.URL, id, chSecret, 1) // Telegram's retry
	postTelegram(t, a.srv.URL, id, "forged", 2)
	got := waitStatus(t, b, id, func(s channels.Status) bool {
		return s.Received == 1 && s.Duplicates == 1 && s.Rejected == 1
	}, "the other replica's list of a message replica A took")
	if got.LastMessage.IsZero() || !strings.Contains(got.LastError, "refused a callback") {
		t.Fatalf("the other replica's last times: %+v", got)
	}
	// Replica B takes one and restarts: its count is not lost with it.
	postTelegram(t, b.srv.URL, id, chSecret, 3)
	waitStatus(t, b, id, func(s channels.Status) bool { return s.Received == 2 }, "replica B's own message")
	b.h.Close()
	c := statusReplica(t, a, tg.URL)
	waitStatus(t, c, id, func(s channels.Status) bool { return s.Received == 2 && s.Rejected == 1 }, "a restarted replica's list")
	// The status goes with the channel.
	if code, body := c.as(t, c.tok, "DELETE", "/api/agents/baker/channels/"+id, nil); code != 200 && code != 204 {
		t.Fatalf("remove: %d %s", code, body)
	}
	if m, err := a.h.st.ChannelStatuses(t.Context(), a.ws); err != nil || len(m) != 0 {
		t.Fatalf("statuses after the channel was removed: %v %+v", m, err)
	}
}
