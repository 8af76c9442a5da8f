// Package scoring qualifies a lead: a Scorer turns the lead's fields, its enrichment and the
// org's ideal customer profile (ICP) into a Result: a score from 0 to 100 with the reasons for
// it, whether the lead matches the ICP, and the recommended path (book_call, nurture or
// disqualify).
//
// Two scorers implement it and pass the same contract tests:
//
//   - Builtin, the deterministic scorer used without OPENAI_API_KEY (rules below);
//   - AI, which asks the model of pkg/ai for exactly the Result fields against a strict JSON
//     schema and validates the answer. With a key set the model decides; there is no fallback
//     to Builtin: its errors go back to the job queue, which retries them (ai.IsPermanent tells
//     which it should not).
//
// # Built-in rules
//
// The score is the sum of five parts; every part adds one reason "<part>: <why> (+n)", zero
// points included, so the reasons always add up to the score.
//
//   - ICP fit, 0-40, four criteria of 10 points each. A criterion the ICP leaves empty matches
//     every lead (10); one the lead's data cannot answer scores 3 ("unknown"); a miss scores 0.
//     industry: the enrichment's industry contains or is contained in an ICP industry (without
//     an enriched industry, an ICP industry word in the company name or notes scores 5);
//     size: the enrichment's employee count within [minEmployees, maxEmployees];
//     region: the enrichment's country in the ICP countries;
//     persona: the title contains an ICP title phrase, or the title's seniority is one of the ICP
//     seniorities, or an ICP keyword appears in the company, title, notes or industry.
//   - Seniority of the title, 0-20: owner/founder/c_level 20, vp 17, head 15, director 14,
//     manager 10, senior 6, any other title 4, none 0 (see SeniorityOf).
//   - Company size, 0-15: employees >= 1000: 15, 200-999: 12, 50-199: 10, 10-49: 6, 1-9: 3; with
//     no employee count a revenue band from 10M up gives 10, a smaller one 3, nothing known 0.
//   - Domain, 0-15: a business e-mail domain 15; a free-mail address (or no e-mail) with a company
//     website 8; a free-mail address and no website 0.
//   - Completeness, 0-10: 2 points each for a name, a company, a title, a phone, and a website
//     or profile link.
//
// ICPMatch is ICP fit >= 30 and the company domain not in the ICP's excludedDomains. The path:
// an excluded domain is disqualify (score unchanged); else score >= 70 with ICPMatch is
// book_call; else score >= 40 is nurture; else disqualify.
//
// It may import pkg/ai and pkg/enrichment, and no domain package: callers map their types to
// Input.
package scoring
