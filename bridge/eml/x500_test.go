package eml

import (
	"bytes"
	"net/mail"
	"strings"
	"testing"

	"crmbridge/crm"
)

// An Exchange (EX) address, an X.500 DN from a PST, goes into the header
// IMCEA-encapsulated (MS-OXCMAIL 2.1.3.1.8): a valid addr-spec Exchange
// and Outlook recognise, read back as the DN it was. Other programs'
// IMCEAEX addresses, whose domain is not ours, stay as they are
// (MS-OXCMAIL: de-encapsulate only a local domain).
func TestX500AddressRoundTrip(t *testing.T) {
	dn := "/O=EXCHANGELABS/OU=EXCHANGE ADMINISTRATIVE GROUP (FYDIBOHF23SPDLT)/CN=RECIPIENTS/CN=a1b2-J_Smith+x"
	rec := crm.Record{ID: "01a22b1e-8161-7571-b7c8-ccfa5cf7cae9", Entity: crm.Email,
		Fields: map[string]string{"subject": "s", "description": "body"},
		Parties: []crm.Party{{Role: crm.RoleSender, Address: dn, Name: "Jane Smith"},
			{Role: crm.RoleTo, Address: "/o=Enron/ou=NA/cn=Recipients/cn=KLAY"},
			{Role: crm.RoleCc, Address: "bob@example.com"}}}
	var b bytes.Buffer
	if err := Write(&b, rec); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		" <IMCEAEX-_O=EXCHANGELABS_OU=EXCHANGE+20ADMINISTRATIVE+20GROUP+20+28FYDIBOHF23SPDLT+29_CN=RECIPIENTS_CN=a1b2-J+5FSmith+2Bx@crmbridge.invalid>\r\n",
		"To: <IMCEAEX-_o=Enron_ou=NA_cn=Recipients_cn=KLAY@crmbridge.invalid>\r\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
	got := readState1(t, b.String())
	if len(got.Parties) != 3 {
		t.Fatalf("parties %+v", got.Parties)
	}
	for i, p := range rec.Parties {
		if g := got.Parties[i]; g.Address != p.Address || g.Name != p.Name {
			t.Errorf("party %d read back %q %q, want %q %q", i, g.Name, g.Address, p.Name, p.Address)
		}
	}
	if s := got.Fields["sender"]; s != "Jane Smith <"+dn+">" {
		t.Errorf("sender %q", s)
	}
	foreign := "IMCEAEX-_O=X_CN=Y@namprd13.prod.outlook.com"
	got = readState1(t, "From: <"+foreign+">\r\nSubject: s\r\n\r\nbody\r\n")
	if a := got.Parties[0].Address; a != foreign {
		t.Errorf("foreign IMCEAEX address read as %q", a)
	}
}

// An address that is no addr-spec (the text of a header that did not
// parse, kept as written by the party rule of crm.Party) goes into the
// header IMCEA-encapsulated with type UNPARSED, so the header is valid
// RFC 5322 (net/mail's strict parser reads it) and reading it back gives
// the party it was.
func TestUnparsedAddressRoundTrip(t *testing.T) {
	rec := crm.Record{ID: "01a22b1e-8161-7571-b7c8-ccfa5cf7cae9", Entity: crm.Email,
		Fields: map[string]string{"subject": "s", "description": "body"},
		Parties: []crm.Party{{Role: crm.RoleSender, Address: "develop!nextmime@ebony@sblab.att.com"},
			{Role: crm.RoleTo, Address: "not an address"},
			{Role: crm.RoleTo, Address: "joe@", Name: "Joe"},
			{Role: crm.RoleTo, Address: "Bob Roe", Name: "Bob Roe"},
			{Role: crm.RoleCc, Address: "Undisclosed-Recipient:@host"},
			{Role: crm.RoleCc, Address: "bob@example.com"}}}
	var b bytes.Buffer
	if err := Write(&b, rec); err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"From", "To", "Cc"} {
		if _, err := msg.Header.AddressList(h); err != nil {
			t.Errorf("%s: %q: %v", h, msg.Header.Get(h), err)
		}
	}
	if want := `<IMCEAUNPARSED-develop+21nextmime+40ebony+40sblab+2Eatt+2Ecom@crmbridge.invalid>`; msg.Header.Get("From") != want {
		t.Errorf("From: %q, want %q", msg.Header.Get("From"), want)
	}
	got := readState1(t, b.String())
	if len(got.Parties) != len(rec.Parties) {
		t.Fatalf("parties %+v", got.Parties)
	}
	for i, p := range rec.Parties {
		if g := got.Parties[i]; g.Address != p.Address || g.Name != p.Name || g.Role != p.Role {
			t.Errorf("party %d read back %d %q %q, want %d %q %q", i, g.Role, g.Name, g.Address, p.Role, p.Name, p.Address)
		}
	}
}
