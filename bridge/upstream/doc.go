// Package upstream replays the local store's outbox to an upstream CRM that
// speaks the Dataverse (Dynamics 365) Web API, OData v4, and pulls the
// server's changes back. A create is a create-only upsert to the record's own
// GUID, an update a PATCH conditional on the last ETag seen, and changes go
// out as $batch requests with one change set per record; when the outcome of a
// request is unknown the next attempt reads the record back first, so a
// replayed push never creates a duplicate or applies an update twice. The
// package talks to the store only through the Queue and Sink interfaces it
// declares, and to the network only through HTTPDoer.
package upstream
