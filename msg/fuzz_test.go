package msg

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"crmbridge/fixtures"
)

// FuzzOpenItem opens arbitrary bytes as a .msg, reads its item and every
// attachment's content: it must return nil or a *msg.Error, never panic or
// hang (a panic fails the target; nothing recovers one). Seeds: the small
// corpus files when the corpus is present, and our own generated ones.
func FuzzOpenItem(f *testing.F) {
	dir := filepath.Join(fixtures.Root(), "..", "shared", "corpus", "msg")
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.Size() <= 96<<10 {
				if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
					f.Add(data)
				}
			}
		}
	}
	inner := mail()
	f.Add(fixtures.WriteMSG(mail()))
	f.Add(fixtures.WriteMSG(&fixtures.MSGMessage{
		Props: []fixtures.MSGProp{p(0x001A, 0x001F, "IPM.Note"),
			{Set: setPublic, Name: "Keywords", Type: 0x101F, Value: []string{"a", "b"}}},
		Attachments: []fixtures.MSGAttachment{{Props: []fixtures.MSGProp{p(0x3705, 0x0003, int32(5))}, Embedded: inner}},
	}))
	f.Add(fixtures.WriteMSG(&fixtures.MSGMessage{Props: []fixtures.MSGProp{
		p(0x001A, 0x001F, "IPM.Contact"),
		{Set: setAddress, LID: 0x8083, Type: 0x001F, Value: "x@example.com"},
		{Set: setAddress, LID: 0x8054, Type: 0x1102, Value: [][]byte{{1, 2}, {3}}},
	}}))
	f.Add([]byte{})
	f.Add([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1})
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Sniff(bytes.NewReader(data), int64(len(data)))
		err := readAll(data)
		if err == nil {
			return
		}
		var me *Error
		if !errors.As(err, &me) {
			t.Fatalf("error %v (%T) is not a *msg.Error", err, err)
		}
	})
}
