package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// publishFromWindow is a first publication from the Publish screen of the
// app at appURL: the hub's address and the token typed, then publishAgain.
func publishFromWindow(appURL, hubURL, token, want string) []chromedp.Action[chromedp.Void] {
	return append([]chromedp.Action[chromedp.Void]{
		chromedp.Navigate(appURL + "/#/publish"),
		chromedp.WaitVisible(tid("publish-url")),
		chromedp.SendKeys(tid("publish-url"), hubURL),
		chromedp.SendKeys(tid("publish-token"), token),
	}, publishAgain(want)...)
}

// publishAgain presses Publish, enabled once the agent list has loaded and
// one is chosen, and waits for a result that contains want.
func publishAgain(want string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.WaitEnabled(tid("publish-submit")),
		chromedp.Click(tid("publish-submit")),
		waitText(tid("publish-result"), func(s string) bool { return strings.Contains(s, want) }, nil),
	}
}

// hubGet reads a publisher API answer of the hub as JSON.
func hubGet(t *testing.T, url, token string, out any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		t.Fatalf("GET %s: %s %s", url, res.Status, b)
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
