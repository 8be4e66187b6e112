package main

import (
	"time"

	"crmbridge/crm"
	"crmbridge/crmstore"
)

// recordJSON is show --json: snake_case keys, the record's fields under
// "fields", empty lists as [] (never null). See README, "JSON output".
type recordJSON struct {
	ID          string            `json:"id"`
	ShortID     string            `json:"short_id"`
	Entity      crm.Entity        `json:"entity"`
	Deleted     bool              `json:"deleted"`
	CreatedAt   time.Time         `json:"created_at"`
	ModifiedAt  time.Time         `json:"modified_at"`
	Fields      map[string]string `json:"fields"`
	Parties     []partyJSON       `json:"parties"`
	Members     []partyJSON       `json:"members"`
	Attachments []attachmentJSON  `json:"attachments"`
	Extras      []crm.Extra       `json:"extras"`
	Sources     []sourceJSON      `json:"sources"`
	Keys        []string          `json:"keys"`
}

type partyJSON struct {
	Role      string `json:"role,omitempty"`
	Address   string `json:"address"`
	Name      string `json:"name"`
	ContactID string `json:"contact_id,omitempty"`
	Status    string `json:"status,omitempty"`
}

type attachmentJSON struct {
	Name      string `json:"name"`
	MimeType  string `json:"mime_type"`
	ContentID string `json:"content_id,omitempty"`
	Inline    bool   `json:"inline"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
}

type sourceJSON struct {
	Kind    string `json:"kind"`
	Key     string `json:"key"`
	Version string `json:"version"`
}

func toRecordJSON(v *crmstore.View) recordJSON {
	r := recordJSON{
		ID: v.ID, ShortID: crmstore.ShortID(v.ID), Entity: v.Entity, Deleted: v.Deleted,
		CreatedAt: v.CreatedAt, ModifiedAt: v.ModifiedAt, Fields: v.Fields,
		Parties: []partyJSON{}, Members: []partyJSON{}, Attachments: []attachmentJSON{},
		Extras: v.Extras, Sources: []sourceJSON{}, Keys: v.Keys,
	}
	if r.Fields == nil {
		r.Fields = map[string]string{}
	}
	if r.Extras == nil {
		r.Extras = []crm.Extra{}
	}
	if r.Keys == nil {
		r.Keys = []string{}
	}
	for _, p := range v.Parties {
		r.Parties = append(r.Parties, partyJSON{Role: roleNames[p.Role], Address: p.Address, Name: p.Name, ContactID: p.ContactID, Status: p.Status})
	}
	for _, p := range v.Members {
		r.Members = append(r.Members, partyJSON{Address: p.Address, Name: p.Name, ContactID: p.ContactID})
	}
	for _, a := range v.Attachments {
		r.Attachments = append(r.Attachments, attachmentJSON{Name: a.Name, MimeType: a.MimeType, ContentID: a.ContentID, Inline: a.Inline, Size: a.Size, SHA256: a.SHA256})
	}
	for _, s := range v.Sources {
		r.Sources = append(r.Sources, sourceJSON{Kind: s.Kind, Key: s.Key, Version: s.Version})
	}
	return r
}
