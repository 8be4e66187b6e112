package pst

import (
	"context"
	"fmt"
	"iter"
	"strings"

	gopst "github.com/mooijtech/go-pst/v6/pkg"

	"crmbridge/internal/recovered"
)

// Items walks every folder depth-first, from the root folder, and yields
// each message of each normal folder as an *Item, in the order of the
// folder's contents table. A message that cannot be read yields
// (nil, *ItemError) and the walk continues; a folder that cannot be read
// yields one *ItemError for the folder (Index 0) and the walk continues with
// the next folder. When ctx is cancelled the walk yields (nil, ctx.Err())
// once and stops. Search folders are not walked (their items live in normal
// folders). The Item and its attachments' Open functions are valid until the
// loop body returns.
func (f *File) Items(ctx context.Context) iter.Seq2[*Item, error] {
	return func(yield func(*Item, error) bool) {
		w := &walker{f: f, ctx: ctx, yield: yield, seen: map[uint32]bool{}}
		w.folder(nidRootFolder, "", 0, false)
	}
}

type walker struct {
	f     *File
	ctx   context.Context
	yield func(*Item, error) bool
	seen  map[uint32]bool // folders visited: a damaged hierarchy may loop
	done  bool
}

func (w *walker) emit(it *Item, err error) bool {
	if w.done {
		return false
	}
	if !w.yield(it, err) {
		w.done = true
	}
	return !w.done
}

func (w *walker) folderErr(path string, err error) bool {
	return w.emit(nil, &ItemError{File: w.f.name, Folder: path, Err: err})
}

// folder yields the items of folder nid (its path is path) and then walks
// its subfolders. It returns false when the walk must stop.
func (w *walker) folder(nid uint32, path string, depth int, sent bool) bool {
	if err := w.ctx.Err(); err != nil {
		w.emit(nil, err)
		w.done = true
		return false
	}
	if depth > maxFolderDepth {
		return w.folderErr(path, fmt.Errorf("folders nested deeper than %d", maxFolderDepth))
	}
	if w.seen[nid] {
		return w.folderErr(path, fmt.Errorf("folder %#x appears twice in the hierarchy", nid))
	}
	w.seen[nid] = true

	msgs, subs, err := w.f.folderTables(nid)
	if err != nil {
		if !w.folderErr(path, err) {
			return false
		}
	}
	for i, m := range msgs {
		if !w.message(m, path, i+1, sent) {
			return false
		}
	}
	for _, sub := range subs {
		name, ok := w.f.folderName(sub)
		if !ok {
			// Not a folder we can read: report under the parent.
			if !w.folderErr(path, fmt.Errorf("subfolder %#x: cannot read its properties", sub)) {
				return false
			}
			continue
		}
		childPath := name
		switch {
		case nid == nidRootFolder && sub == w.f.ipmNID:
			childPath = "" // the IPM subtree ("Top of Personal Folders") is the user's root
		case path != "":
			childPath = path + "/" + name
		}
		childSent := sent || sub == w.f.sentNID ||
			(nid == w.f.ipmNID && w.f.sentNID == 0 && sentFolderNames[strings.ToLower(name)])
		if !w.folder(sub, childPath, depth+1, childSent) {
			return false
		}
	}
	return true
}

// message reads and yields one message, recovering from go-pst panics.
func (w *walker) message(nid uint32, path string, index int, sent bool) bool {
	if err := w.ctx.Err(); err != nil {
		w.emit(nil, err)
		w.done = true
		return false
	}
	it, err := w.f.readMessage(nid, path, index)
	if err != nil {
		return w.emit(nil, &ItemError{File: w.f.name, Folder: path, Index: index, Err: err})
	}
	if sent && it.Email != nil {
		it.Email.Outgoing = true
	}
	return w.emit(it, nil)
}

// readMessage reads the message nid; a panic in go-pst becomes an error.
func (f *File) readMessage(nid uint32, path string, index int) (it *Item, err error) {
	defer func() {
		if r := recover(); r != nil {
			recovered.Note(r, goPSTPath)
			it, err = nil, panicError(r)
		}
	}()
	if nid&0x1F != nidTypeNormalMessage {
		return nil, fmt.Errorf("node %#x is not a message", nid)
	}
	b, err := f.nodeBag(nid)
	if err != nil {
		return nil, err
	}
	return f.readItem(b, path, index, nid, 0)
}

// folderTables returns the message NIDs of a folder's contents table and
// the NIDs of its subfolders (hierarchy table), recovering from panics.
func (f *File) folderTables(nid uint32) (msgs, subs []uint32, err error) {
	defer func() {
		if r := recover(); r != nil {
			recovered.Note(r, goPSTPath)
			err = panicError(r)
		}
	}()
	base := nid &^ 0x1F
	if nid&0x1F == nidTypeNormalFolder {
		msgs, err = f.rowIDs(base | nidTypeContentsTable)
		if err != nil {
			return nil, nil, fmt.Errorf("contents table: %w", err)
		}
	}
	subs, err = f.rowIDs(base | nidTypeHierarchyTable)
	if err != nil {
		return msgs, nil, fmt.Errorf("hierarchy table: %w", err)
	}
	return msgs, subs, nil
}

// rowIDs reads the row ids (PidTagLtpRowId, the NIDs) of a top-level table
// node. A missing table node reads as empty.
func (f *File) rowIDs(tableNID uint32) ([]uint32, error) {
	n, err := f.pst.GetNodeBTreeNode(gopst.Identifier(tableNID))
	if err != nil {
		return nil, nil //nolint:nilerr // no such table: no rows
	}
	lds, err := f.localDescriptors(n.LocalDescriptorsIdentifier)
	if err != nil {
		return nil, err
	}
	hon, err := f.heapFromBID(n.DataIdentifier)
	if err != nil {
		return nil, err
	}
	rows, err := f.table(hon, lds, tagLtpRowID)
	if err != nil {
		return nil, err
	}
	ids := make([]uint32, 0, len(rows))
	for _, r := range rows {
		if v, ok := r.int(tagLtpRowID); ok {
			ids = append(ids, uint32(v))
		}
	}
	return ids, nil
}

// folderName reads a folder's display name (PidTagDisplayName, 8-bit in
// ANSI files), with "/" replaced so paths stay unambiguous.
func (f *File) folderName(nid uint32) (name string, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			recovered.Note(r, goPSTPath)
			ok = false
		}
	}()
	t := nid & 0x1F
	if t != nidTypeNormalFolder && t != nidTypeSearchFolder {
		return "", false
	}
	b, err := f.nodeBag(nid)
	if err != nil {
		return "", false
	}
	b.cp = b.codepage(f.storeCP)
	name = strings.ReplaceAll(b.str(tagDisplayName), "/", "_")
	if name == "" {
		name = fmt.Sprintf("folder-%x", nid)
	}
	return name, true
}

// sentFolderNames are the names of the Sent Items folder in Outlook's
// languages, used when the store does not name the folder by entry id
// (PidTagIpmSentMailEntryId): a top-level folder of the IPM subtree with
// one of these names holds outgoing mail.
var sentFolderNames = map[string]bool{
	"sent items": true, "sent": true, "sent messages": true, "sent mail": true,
	"gesendete elemente": true, "gesendete objekte": true, "éléments envoyés": true,
	"posta inviata": true, "elementi inviati": true, "elementos enviados": true,
	"itens enviados": true, "verzonden items": true, "skickat": true, "skickade objekt": true,
	"sendte elementer": true, "sendt post": true, "lähetetyt": true, "wysłane elementy": true,
	"odeslaná pošta": true, "elküldött elemek": true, "отправленные": true,
	"送信済みアイテム": true, "已发送邮件": true, "寄件備份": true, "보낸 편지함": true,
}

// goPSTPath names go-pst for recovered.Note: go-pst v6.0.2 panics on some
// damaged b-trees and blocks (index out of range while reading a page);
// every call into it is guarded by a recover, and such a panic is counted
// as known rather than as our bug. A panic in our own code still fails the
// tests.
const goPSTPath = "github.com/mooijtech/go-pst/"
