// Package analytics answers the figures of GET /analytics/funnel, /analytics/velocity and
// /analytics/dashboard (API.md "Analytics (definitions)"): read-only, per org, over a half-open
// window [from, to) that defaults to the last 90 days.
//
// The figures stay exact and fast on an org with a million leads because the leads are read
// from projections that triggers keep in every writing transaction (migration 000033):
// lead_funnel holds each lead's furthest funnel step (its stage history's highest step, or won
// when a deal of it was won), lead_funnel_days counts them per UTC day of creation and step and,
// apart, per day and source, lead_stage_totals counts the leads per current stage, and
// deal_closed_days the won and lost deals per UTC day of closing, stage and currency (with the
// sums of their values and cycles). A window sums the whole days it covers and scans only its
// partial edge days on the rows' indexes. Invoices, clients and alerts (at most a few hundred
// thousand rows per org) are read on their indexes; the open deals from deal_pipeline_totals.
//
// Money is summed per currency, never across currencies, in minor units as exact decimal text.
// Ratios and means are computed on exact rationals (math/big) and rounded half away from zero
// (4 decimals for ratios, 2 for days, whole minor units for money); a figure whose base is zero
// is null.
package analytics
