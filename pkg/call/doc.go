// Package call is the call domain: sales calls booked with a lead, their status machine
// (status.go), its statements (queries.go) and their reads and writes (store.go), the use cases the API and the
// worker run (service.go, analyze.go) and the call analysers (analysis.go, builtin.go, ai.go).
//
// # Calls
//
// A call is booked for a live lead of the org that is not converted, lost or disqualified, at a
// time in the future (at most MaxAhead ahead). Booking moves the lead to call_booked through the
// lead stage machine (lead.BookingPath) and emits call.booked. Its status then moves once:
// booked -> completed | no_show | cancelled, all final (CanMove). Every change locks the call's
// row first (SELECT ... FOR UPDATE), so of two concurrent changes of one call exactly one wins
// and the other sees the winner's status (409). Every change is also a "call" activity on the
// lead's timeline, and emits its event (call.booked, call.completed, call.no_show,
// call.cancelled) in the same transaction.
//
// # Ghost risk
//
// A no-show raises the lead's ghost risk by lead.GhostRiskNoShowStep (1), once per call: the
// no-show is a final status, so a call can miss only once. A no-show and a cancellation do not
// move the lead's lastActivityAt (they are silence, not contact); a booking and a held call do.
//
// # Analysis
//
// call.completed enqueues analyze_call, which runs Service.Analyze: an Analyzer (Builtin without
// OPENAI_API_KEY, else AI through pkg/ai) reads the transcript and notes and gives a summary, a
// buying-signal score 0-100 with the phrases that drove it, objections and next steps. The
// answer is validated (Analysis.Validate) and stored on the call with analysis_model ("builtin"
// or the model) and analyzed_at, with call.analyzed. A score at or above the buying-signal
// threshold (BUYING_SIGNAL_THRESHOLD) emits buying_signal.high, which enqueues escalate_lead:
// priority urgent and an escalation activity on the lead, once per call (Service.Escalate).
// Analysis only describes the call: it never moves a deal, an invoice or the lead's stage.
//
// # Long transcripts
//
// Builtin scans the whole transcript (linear in its length). The AI analyser sends at most
// AITranscriptBudget characters: a longer transcript keeps its first AIHeadChars and its last
// AITranscriptBudget-AIHeadChars characters (cut at whitespace), joined by a marker saying how
// much was left out (Excerpt). The opening holds the context and the needs, the close holds
// pricing, decisions and next steps, where buying signals gather. So an hour of talk (60-100k
// characters) never fails a job for its length.
package call
