// Package eml reads e-mail messages from EML files (one RFC 5322 message per
// file) and mbox files (many messages, in the mboxo, mboxrd, Content-Length,
// Thunderbird and readpst variants) as crmstore email records, and writes an
// email record back as an EML file. Parsing is built on go-message's
// textproto layer and is deliberately lenient: a malformed header, an unknown
// charset, a missing closing boundary or a broken date is reported as an
// *item.Error after the message it belongs to, and the rest of the message is
// kept. The package does not register go-message's charset tables: the
// command registers them once (import _ "github.com/emersion/go-message/charset"),
// and without them every charset other than UTF-8, US-ASCII and ISO-8859-1 is
// reported as unknown and decoded as windows-1252.
package eml
