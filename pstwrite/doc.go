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
// wait in a temporary file until Close writes the tables, and the B-tree
// entries of blocks and message nodes in two more; tables, heaps, BTHs and
// B-trees are written a block or page at a time as they fill. Memory is so
// bounded by the number of folders and the size of one message, not by the
// number of messages (TestMemoryBounded: the same heap for 4,000 and
// 40,000). The file format bounds the rest: 64-bit offsets and BIDs, data
// trees up to an XXBLOCK (4 GiB per stream: lcbTotal is 32 bits), so a
// PST of several GB is written as a small one is. The same calls give the same bytes. It knows
// nothing of the CRM store or the bridge.
package pstwrite
