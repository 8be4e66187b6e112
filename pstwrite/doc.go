// Package pstwrite writes Outlook Personal Folders files: Unicode PST
// (MS-PST, 64-bit, no encoding of block data) holding a message store, the
// standard folders and the messages a caller adds, each a set of MAPI
// properties with recipients and attachments. It is layered as MS-PST is:
// the node database (header, allocation maps, node and block B-trees, data
// blocks, XBLOCK/XXBLOCK data trees, subnode trees), the LTP layer
// (heap-on-node, BTH, property and table contexts) and the messaging layer
// (message store, name-to-id map, folders with their hierarchy, contents
// and associated contents tables). Messages, with attachments and
// embedded messages, are written as they are added; contents-table rows
// wait in a temporary file until Close writes the tables. What stays in
// memory grows with the number of blocks and nodes (24 bytes each) and
// table rows (8 bytes each), not with their content, except the heap of
// the one table being written. The same calls give the same bytes. It
// knows nothing of the CRM store or the bridge.
package pstwrite
