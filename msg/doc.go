// Package msg reads Outlook .msg files (MS-OXMSG): a Compound File Binary
// container (MS-CFB, read with github.com/richardlehane/mscfb) holding one
// message's MAPI properties, recipients, attachments and embedded messages.
// It decodes the container's storages and streams into property sets and
// hands them to package pst, which owns the MAPI property layer (string
// code pages, named properties, compressed RTF, the typed Outlook item), so
// that a message read from a .msg is the same pst.Item as the same message
// read from a PST. Damaged files give errors naming the file and stream;
// every size read from the file is checked against the file's size before
// anything is allocated. It knows nothing of the CRM store or the bridge.
package msg
