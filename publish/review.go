package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"atoll/review"
)

// maxReviewPage bounds one page of a review pull: the hub sends at most 200
// items, each an answer with its passages.
const maxReviewPage = 64 << 20

// ReviewFetcher is the review.FetchFunc that reads a published agent's
// review queue from a hub with a publisher token, one page per call.
func ReviewFetcher(hubURL, token, agentName string) review.FetchFunc {
	hubURL = strings.TrimRight(strings.TrimSpace(hubURL), "/")
	return func(ctx context.Context, since string) (review.Page, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		var page review.Page
		body, err := hubOpen(ctx, hubURL, token, "GET", agentPath(agentName)+"/review?since="+url.QueryEscape(since), nil)
		var no *hubRefusal
		if errors.As(err, &no) {
			switch no.code {
			case http.StatusUnauthorized, http.StatusForbidden:
				return page, fmt.Errorf("the hub at %s refused the publisher token (%s): publish again with a valid token (the hub's owner makes one with `atoll hub token create`)", hubURL, no.message)
			case http.StatusNotFound:
				return page, fmt.Errorf("the hub at %s has no agent %q in your workspace: publish it first", hubURL, agentName)
			}
			return page, fmt.Errorf("the hub refused the review pull (%s): %s", no.status, no.message)
		}
		if err != nil {
			return page, fmt.Errorf("%w, then pull again", err)
		}
		defer body.Close()
		dec := json.NewDecoder(io.LimitReader(body, maxReviewPage))
		if err := dec.Decode(&page); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return page, fmt.Errorf("the hub's review answer was cut off or larger than %d MB: pull again", maxReviewPage>>20)
			}
			return page, fmt.Errorf("the hub's review answer was not understood (%v): is %s an Atoll hub?", err, hubURL)
		}
		return page, nil
	}
}
