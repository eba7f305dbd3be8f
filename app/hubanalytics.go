package app

import (
	"context"
	"fmt"

	"atoll/analytics"
	"atoll/publish"
)

// PublishedAnalytics is the published agent's analytics as the remembered
// hub computes them from its own conversations (the same report as
// Analytics, over the last days days in UTC, 1 to 365).
func (a *App) PublishedAnalytics(agentName string, days int) (analytics.Report, error) {
	if days < 1 || days > publish.AnalyticsMaxDays {
		return analytics.Report{}, fmt.Errorf("choose a period of 1 to %d days, not %d", publish.AnalyticsMaxDays, days)
	}
	var r analytics.Report
	err := a.hubCall(func(ctx context.Context, c publishConfig) (err error) {
		r, err = publish.Analytics(ctx, c.URL, c.Token, c.PublicName(agentName), days)
		return err
	})
	return r, err
}

// ExportPublishedAnalyticsCSV is PublishedAnalytics as CSV text, made here
// from the report as ExportAnalyticsCSV makes the local one.
func (a *App) ExportPublishedAnalyticsCSV(agentName string, days int) (string, error) {
	r, err := a.PublishedAnalytics(agentName, days)
	if err != nil {
		return "", err
	}
	return r.CSV(), nil
}
