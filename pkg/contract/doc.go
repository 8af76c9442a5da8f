// Package contract is the contract domain: the Contract of a won deal, its status machine
// (generated -> sent -> signed, any but signed -> void), the org's contract template, and the
// use cases the API and the worker call (service.go, generate.go).
//
// generate_contract (kinds.go) runs on deal.won: Generate makes one contract per won deal in the
// job batch's transaction (unique per org and deal, migration 000001), filling the org's template
// (document.DefaultContractTemplate when it has saved none) with the deal's and its lead's values
// and rendering it with document.Contract; the PDF is stored with its hex SHA-256, so every
// download serves the same bytes. The contract, its contract.generated event and the job's
// completion commit or roll back together.
//
// A template is checked when it is saved (document.CheckTemplate), never at render time. Every
// change emits its event in its transaction. It knows no transport: errors are apperr errors.
package contract
