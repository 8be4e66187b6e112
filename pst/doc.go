// Package pst reads Outlook PST and OST files (ANSI 97–2002 and Unicode
// 2003+) over github.com/mooijtech/go-pst/v6 and yields typed Outlook items
// (e-mails, contacts, appointments and meetings, tasks, distribution lists,
// notes) with their folder path through an iterator, one message at a time
// in bounded memory. It closes the gaps of go-pst v6.0.2 on top of its
// exported lower layers (node and block b-trees, heap-on-node, property and
// table contexts): it walks folders itself and decodes 8-bit strings with
// the store's code page, resolves named properties through its own
// name-to-id map, reads binary and multi-valued properties raw, reads the
// recipient table, reads embedded messages, strips subject prefixes,
// recovers from go-pst panics per item and per folder, keeps go-pst's
// diagnostic prints off stdout by avoiding the code paths that print, and
// reads the file through a bounded block cache. It knows nothing of the CRM
// store or the bridge.
package pst
