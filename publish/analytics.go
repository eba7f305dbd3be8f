package publish

import (
	"context"
	"strconv"

	"atoll/analytics"
)

// AnalyticsMaxDays is the longest period a hub reports on.
const AnalyticsMaxDays = 365

// Analytics fetches a published agent's analytics report from the hub:
// the last days days (UTC, today included), from the hub's conversations,
// votes and leads of the token's workspace. The hub clamps the period to
// its retention and says so in the report.
func Analytics(ctx context.Context, hubURL, token, agent string, days int) (analytics.Report, error) {
	days = min(max(days, 1), AnalyticsMaxDays)
	var r analytics.Report
	err := adminCall(ctx, hubURL, token, "GET", agentPath(agent)+"/analytics?days="+strconv.Itoa(days), nil, &r, "show the agent's analytics")
	return r, err
}
