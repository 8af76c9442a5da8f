// Package report owns the org's generated reports: the weekly report that the
// generate_weekly_report cron task writes once per org and ISO week. A report holds the week's
// figures, computed in one SQL statement from the org's lead projections (lead_funnel_days,
// lead_funnel: a week of many leads is a few rows), calls, deals, invoices and integrity alerts,
// and a narrative about them, written by a model through pkg/ai when one is configured (it is
// given the figures only, never a person's data) or by the built-in writer otherwise. Its PDF,
// with charts of the figures, is rendered by pkg/document when the report is generated and
// stored with it: a report never changes, so neither do its document's bytes.
package report
