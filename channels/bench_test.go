package channels_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/slack"
)

// BenchmarkChannelAck measures how long a platform waits for the
// acknowledgement when 50 signed Slack messages arrive at once: signature
// check, parse, dedupe and queueing, over real HTTP on loopback. The
// answers (instant here) and sends run behind it and are not timed.
//
//	go test -run '^$' -bench BenchmarkChannelAck -benchtime 20x ./channels/
func BenchmarkChannelAck(b *testing.B) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"ok":true}`)
	}))
	defer api.Close()
	h := channeltest.NewHub(b, channels.Options{Queue: 100_000, Status: &benchSink{m: map[string]channels.Delta{}},
		Answerer: channels.AnswerFunc(func(ctx context.Context, q channels.Question) (channels.Reply, error) {
			return channels.Reply{Text: "ok"}, nil
		})})
	const secret = "0123456789abcdef0123456789abcdef"
	if _, err := h.D.Add(channels.Config{ID: "sl", Kind: channels.Slack, Agent: "a", APIBase: api.URL,
		Settings: map[string]string{"bot_token": "xoxb-1", "signing_secret": secret}}); err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	const concurrent = 50
	var lat []time.Duration
	var mu sync.Mutex
	seq := 0
	b.ResetTimer()
	for range b.N {
		var wg sync.WaitGroup
		for range concurrent {
			seq++
			n := seq
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := fmt.Sprintf(`{"type":"event_callback","event_id":"Ev%d","event":{"type":"message","channel":"D1","channel_type":"im","user":"U1","text":"hi %d","ts":"1.%d"}}`, n, n, n)
				ts := strconv.FormatInt(time.Now().Unix(), 10)
				req, _ := http.NewRequest(http.MethodPost, h.URL("sl"), strings.NewReader(body))
				req.Header.Set("X-Slack-Request-Timestamp", ts)
				req.Header.Set("X-Slack-Signature", slack.Sign(secret, ts, []byte(body)))
				start := time.Now()
				resp, err := client.Do(req)
				d := time.Since(start)
				if err != nil || resp.StatusCode != 200 {
					b.Errorf("ack: %v %v", err, resp)
					return
				}
				resp.Body.Close()
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	}
}

// benchSink gathers status changes in a map under a lock, as the hub's
// replicas do before writing them to their store (off the ack path).
type benchSink struct {
	mu sync.Mutex
	m  map[string]channels.Delta
}

func (s *benchSink) Note(_ context.Context, ws, id string, d channels.Delta) {
	s.mu.Lock()
	p := s.m[id]
	p.Received += d.Received
	p.Duplicates += d.Duplicates
	if d.LastMessage.After(p.LastMessage) {
		p.LastMessage = d.LastMessage
	}
	s.m[id] = p
	s.mu.Unlock()
}
