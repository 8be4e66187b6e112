// Package fakeserver is a strict in-process stand-in for the Dataverse Web
// API subset that crmbridge push and pull use: create-only upserts, updates
// conditional on an ETag, deletes, reads by id with expanded activity
// parties, change-tracking and filtered collection reads, and $batch with
// change sets. It validates every request (entity set, GUID, attribute
// names and value types from crmstore's schema, statecode/statuscode pairs,
// If-Match/If-None-Match, batch framing) and records what a client should
// never send, keeps a log of every write it applied, and injects faults on
// demand: dropped connections before or after applying, 429 and 503 with
// Retry-After, 500 after applying, a gateway's 502/503 HTML page, slow answers and a concurrent writer
// that makes an update's ETag stale. It can answer in Dataverse's style or
// in SAP CAP's where the two differ.
package fakeserver
