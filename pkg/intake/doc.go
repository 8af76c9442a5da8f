// Package intake is how lead submissions enter the system. normalize.go holds what every entry
// path shares (the intake gateway's webhook, form and CSV routes, and a lead created by hand in
// the API): the normalisation of submitted contact data and the fingerprint that deduplicates
// leads. It deals in plain strings so that any caller can use it without lead types.
package intake
