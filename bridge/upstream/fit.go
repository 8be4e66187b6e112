package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"crmbridge/crm"
)

// Cache keeps what a client learns about the server between runs: the
// calling user and the column limits. The store implements it
// (StoreQueue); without one, every run asks again.
type Cache interface {
	CacheGet(ctx context.Context, key string) (value string, ok bool, err error)
	CachePut(ctx context.Context, key, value string) error
}

// UseCache makes c keep the calling user and the column limits in k.
func (c *Client) UseCache(k Cache) { c.cache = k }

// serverFacts is what a client learned about the server in this run.
type serverFacts struct {
	mu     sync.Mutex
	user   *caller
	limits map[crm.Entity]map[string]int
}

// caller is the user the bearer token stands for.
type caller struct {
	ID    string // systemuserid
	Email string // internalemailaddress, lower case ("" = unknown)
}

// errTransient marks an encode failure that a later attempt may not have
// (the server could not tell who we are yet): retried, never dead.
var errTransient = errors.New("upstream: not known yet")

// limitsMaxAge is how long column limits read from the metadata are used
// from the cache before they are read again.
const limitsMaxAge = 24 * time.Hour

// whoAmI returns the calling user: WhoAmI once per client (one run), then
// the user's own address, kept in the cache so that a run whose WhoAmI
// fails still knows it. ok is false when the server has no WhoAmI (a
// plain OData service such as CAP).
//
// WhoAmI: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/whoami
func (c *Client) whoAmI(ctx context.Context) (caller, bool, error) {
	c.facts.mu.Lock()
	defer c.facts.mu.Unlock()
	if c.facts.user != nil {
		return *c.facts.user, c.facts.user.ID != "", nil
	}
	key := "whoami " + c.base.String()
	if c.offline {
		if c.cache != nil {
			if v, ok, _ := c.cache.CacheGet(ctx, key); ok {
				var u caller
				if json.Unmarshal([]byte(v), &u) == nil && IsGUID(u.ID) {
					return u, true, nil
				}
			}
		}
		return caller{}, false, nil
	}
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: "WhoAmI"})
	if err == nil && resp.Status == http.StatusOK {
		var w struct {
			UserID string `json:"UserId"`
		}
		if json.Unmarshal(resp.Body, &w) == nil && IsGUID(w.UserID) {
			u := caller{ID: strings.ToLower(w.UserID)}
			if r, err := c.Do(ctx, Request{Method: http.MethodGet, Path: "systemusers(" + u.ID + ")?$select=internalemailaddress"}); err == nil && r.Status == http.StatusOK {
				var su struct {
					Email *string `json:"internalemailaddress"`
				}
				if json.Unmarshal(r.Body, &su) == nil && su.Email != nil {
					u.Email = strings.ToLower(*su.Email)
				}
			}
			c.facts.user = &u
			if c.cache != nil {
				b, _ := json.Marshal(u)
				_ = c.cache.CachePut(ctx, key, string(b))
			}
			return u, true, nil
		}
	}
	if c.cache != nil {
		if v, ok, _ := c.cache.CacheGet(ctx, key); ok {
			var u caller
			if json.Unmarshal([]byte(v), &u) == nil && IsGUID(u.ID) {
				c.facts.user = &u
				return u, true, nil
			}
		}
	}
	if err == nil && (resp.Status == http.StatusNotFound || resp.Status == http.StatusNotImplemented) {
		// No such function: not Dataverse. Parties go as they are.
		c.facts.user = &caller{}
		return caller{}, false, nil
	}
	msg := "no answer"
	if err != nil {
		msg = err.Error()
	} else {
		msg = resp.ErrorMessage()
	}
	return caller{}, false, fmt.Errorf("%w: WhoAmI: %s", errTransient, msg)
}

// builtinMaxLength are the MaxLength of the string columns crmbridge
// sends, as Dataverse ships them (the table/entity reference pages,
// https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/contact
// and the pages beside it), used when the metadata cannot be read. A
// column not listed has no limit we know of.
var builtinMaxLength = func() map[crm.Entity]map[string]int {
	contact := map[string]int{"salutation": 100, "firstname": 50, "middlename": 50, "lastname": 50, "suffix": 10,
		"nickname": 100, "emailaddress1": 100, "emailaddress2": 100, "emailaddress3": 100, "telephone1": 50,
		"telephone2": 50, "telephone3": 50, "mobilephone": 50, "fax": 50, "pager": 50, "jobtitle": 100,
		"department": 100, "spousesname": 100, "websiteurl": 200, "description": 2000}
	account := map[string]int{"name": 160, "telephone1": 50, "fax": 50, "emailaddress1": 100, "websiteurl": 200, "description": 2000}
	address := map[string]int{"name": 200, "line1": 250, "line2": 250, "line3": 250, "city": 80,
		"stateorprovince": 50, "postalcode": 20, "country": 80, "postofficebox": 20}
	for part, l := range address {
		for _, n := range []string{"1", "2", "3"} {
			contact["address"+n+"_"+part] = l
		}
		account["address1_"+part] = l
	}
	activity := func(kv ...any) map[string]int {
		m := map[string]int{"subject": 200, "category": 250}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].(int)
		}
		return m
	}
	return map[crm.Entity]map[string]int{
		crm.Contact: contact,
		crm.Account: account,
		crm.Lead: {"subject": 300, "firstname": 50, "lastname": 50, "companyname": 100, "emailaddress1": 100,
			"telephone1": 50, "mobilephone": 20, "jobtitle": 100, "description": 2000},
		crm.Opportunity: {"name": 300, "description": 2000},
		crm.List:        {"listname": 128, "description": 2000},
		crm.Email: activity("subject", 800, "sender", 250, "torecipients", 500, "messageid", 320, "inreplyto", 320,
			"conversationindex", 2048),
		crm.Task:        activity("description", 2000),
		crm.Appointment: activity("location", 200, "globalobjectid", 300),
		crm.PhoneCall:   activity("phonenumber", 200),
		crm.Fax:         activity("faxnumber", 50),
		crm.Letter:      activity(),
	}
}()

// maxLengths returns the string column limits of entity e: read once per
// client from the table's metadata (cached for limitsMaxAge), or the
// built-in table when the metadata cannot be read (no privilege, a server
// without it).
//
// https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api:
// EntityDefinitions(LogicalName='…')/Attributes, cast to
// StringAttributeMetadata for MaxLength.
func (c *Client) maxLengths(ctx context.Context, e crm.Entity) map[string]int {
	c.facts.mu.Lock()
	defer c.facts.mu.Unlock()
	if m, ok := c.facts.limits[e]; ok {
		return m
	}
	if c.facts.limits == nil {
		c.facts.limits = map[crm.Entity]map[string]int{}
	}
	key := "maxlength " + c.base.String() + " " + string(e)
	type cached struct {
		At     time.Time      `json:"at"`
		Limits map[string]int `json:"limits"`
	}
	if c.cache != nil {
		if v, ok, _ := c.cache.CacheGet(ctx, key); ok {
			var cv cached
			if json.Unmarshal([]byte(v), &cv) == nil && time.Since(cv.At) < limitsMaxAge && cv.Limits != nil {
				c.facts.limits[e] = cv.Limits
				return cv.Limits
			}
		}
	}
	if c.offline {
		return builtinMaxLength[e]
	}
	path := "EntityDefinitions(LogicalName='" + string(e) + "')/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata?$select=LogicalName,MaxLength"
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: path})
	if err != nil {
		return builtinMaxLength[e] // no answer: ask again next time
	}
	var page struct {
		Value []struct {
			LogicalName string `json:"LogicalName"`
			MaxLength   *int   `json:"MaxLength"`
		} `json:"value"`
	}
	m := builtinMaxLength[e]
	switch {
	case resp.Status == http.StatusOK && json.Unmarshal(resp.Body, &page) == nil && len(page.Value) > 0:
		m = map[string]int{}
		for _, a := range page.Value {
			if a.MaxLength != nil && *a.MaxLength > 0 {
				m[a.LogicalName] = *a.MaxLength
			}
		}
	case resp.Status == http.StatusTooManyRequests || resp.Status >= 500:
		return m // ask again later
	}
	// Read, or refused for good (no privilege, no metadata on this
	// server: the built-in table stands in): keep it for limitsMaxAge,
	// and as the limits an import checks against (KnownMaxLengths).
	if c.cache != nil && m != nil {
		b, _ := json.Marshal(cached{At: time.Now().UTC(), Limits: m})
		_ = c.cache.CachePut(ctx, key, string(b))
		_ = c.cache.CachePut(ctx, latestLimitsKey(e), string(b))
	}
	c.facts.limits[e] = m
	return m
}

func latestLimitsKey(e crm.Entity) string { return "maxlength latest " + string(e) }

// KnownMaxLengths returns the string column limits of entity e that a
// push would meet: those push last read from the server's metadata (kept
// in cache, whatever their age), else the built-in table. It asks the
// server nothing: an import uses it to report values push will have to
// cut.
func KnownMaxLengths(ctx context.Context, cache Cache, e crm.Entity) map[string]int {
	if cache != nil {
		if v, ok, _ := cache.CacheGet(ctx, latestLimitsKey(e)); ok {
			var cv struct {
				Limits map[string]int `json:"limits"`
			}
			if json.Unmarshal([]byte(v), &cv) == nil && cv.Limits != nil {
				return cv.Limits
			}
		}
	}
	return builtinMaxLength[e]
}

// Unfit is a value Dataverse cannot hold as it is: a string longer than
// its column (MaxLength > 0), or a date before 1753-01-01.
type Unfit struct {
	Entity    crm.Entity
	Field     string
	Value     string
	Length    int // UTF-16 code units, for a string
	MaxLength int // the column's limit; 0 for a date
}

// String says what push does with the value.
func (u Unfit) String() string {
	if u.MaxLength == 0 {
		return fmt.Sprintf("%s.%s: %s is before 1753-01-01, the earliest date Dataverse holds: kept here, not sent upstream",
			u.Entity, u.Field, u.Value)
	}
	what := "sent upstream cut to fit"
	if u.Field == "subject" && u.Entity.IsActivity() {
		what = "sent upstream cut to fit, the whole subject at the head of the description"
	}
	return fmt.Sprintf("%s.%s: %d characters, the Dataverse column holds %d: kept whole here, %s", u.Entity, u.Field, u.Length, u.MaxLength, what)
}

// CheckFit returns the values of fields (canonical text values of entity
// e) that Dataverse cannot hold as they are, against the column limits
// (see KnownMaxLengths), sorted by field name.
func CheckFit(e crm.Entity, fields map[string]string, limits map[string]int) []Unfit {
	var out []Unfit
	for _, k := range sortedKeys(fields) {
		v := fields[k]
		fd, ok := crm.LookupField(e, k)
		if !ok || v == "" || !fd.Upstream {
			continue
		}
		switch fd.Kind {
		case crm.Text:
			if max, ok := limits[k]; ok && utf16Len(v) > max {
				out = append(out, Unfit{Entity: e, Field: k, Value: v, Length: utf16Len(v), MaxLength: max})
			}
		case crm.Date, crm.Time:
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				t, err = time.Parse(time.DateOnly, v)
			}
			if err == nil && t.Before(minDate) {
				out = append(out, Unfit{Entity: e, Field: k, Value: v})
			}
		}
	}
	return out
}

// minDate is the earliest value a Dataverse date and time column holds
// ("All date and time columns in Dataverse support values as early as
// 1/1/1753 12:00 AM",
// https://learn.microsoft.com/power-apps/developer/data-platform/behavior-format-date-time-attribute).
var minDate = time.Date(1753, 1, 1, 0, 0, 0, 0, time.UTC)

// fit returns the values of fields Dataverse can hold, and a note for each
// it changed: a string longer than its column's MaxLength (counted in
// UTF-16 code units, as nvarchar does) is cut to fit, a date before
// minDate is left out. The store keeps the full values either way.
//
// An activity's subject longer than its column also goes whole at the
// head of the description (crm.JoinSubject), where Dataverse has room,
// whenever the subject or the description is sent; a changed subject
// sends the description too (with the subject, or without one placed
// there before). other holds the store's values of those two the change
// does not carry (see FieldReader).
func (c *Client) fit(ctx context.Context, e crm.Entity, fields, other map[string]string) (map[string]string, []string) {
	var limits map[string]int
	for k, v := range fields {
		if fd, ok := crm.LookupField(e, k); ok && fd.Kind == crm.Text && v != "" {
			limits = c.maxLengths(ctx, e)
			break
		}
	}
	out := make(map[string]string, len(fields)+1)
	for k, v := range fields {
		out[k] = v
	}
	var notes []string
	_, subjChanged := fields["subject"]
	_, descChanged := fields["description"]
	if e.IsActivity() && (subjChanged || descChanged) {
		subj, ok := fields["subject"]
		if !ok {
			subj = other["subject"]
		}
		if limits == nil && subj != "" {
			limits = c.maxLengths(ctx, e)
		}
		desc, ok := fields["description"]
		if !ok {
			desc, ok = other["description"]
		}
		if ok && subjectTooLong(subj, limits) {
			out["description"] = crm.JoinSubject(subj, desc)
		} else if ok {
			// A changed subject that fits: the description goes without
			// a subject placed there before.
			out["description"] = desc
		}
	}
	for _, u := range CheckFit(e, out, limits) {
		if u.MaxLength == 0 {
			delete(out, u.Field)
		} else {
			out[u.Field] = cutUTF16(u.Value, u.MaxLength)
		}
		notes = append(notes, u.String())
	}
	return out, notes
}

func subjectTooLong(subject string, limits map[string]int) bool {
	max, ok := limits["subject"]
	return ok && utf16Len(subject) > max
}

// subjectContext lists the fields the subject rule of fit reads.
var subjectContext = []string{"subject", "description"}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// cutUTF16 returns the longest prefix of s of at most max UTF-16 code
// units, never splitting a character.
func cutUTF16(s string, max int) string {
	n := 0
	for i, r := range s {
		l := utf16.RuneLen(r)
		if l < 0 {
			l = 1
		}
		if n+l > max {
			return s[:i]
		}
		n += l
	}
	return s
}

// partyRoles lists the participation types each activity takes ("Activity
// Party types available for each activity",
// https://learn.microsoft.com/power-apps/developer/data-platform/activityparty-entity).
// A task takes none: its owner is the user.
var partyRoles = map[crm.Entity][]int{
	crm.Appointment: {crm.RoleRequired, crm.RoleOptional, crm.RoleOrganizer},
	crm.Email:       {crm.RoleSender, crm.RoleTo, crm.RoleCc, crm.RoleBcc},
	crm.Fax:         {crm.RoleSender, crm.RoleTo},
	crm.PhoneCall:   {crm.RoleSender, crm.RoleTo},
	crm.Letter:      {crm.RoleSender, crm.RoleTo, crm.RoleBcc},
}

// wireParty is an activity party as sent: bound to a record (Entity, ID)
// or, unresolved, by address only.
type wireParty struct {
	Role    int
	Entity  crm.Entity // contact, account or systemuser; "" = address only
	ID      string
	Address string
}

// key returns the party as SameParties compares it.
func (w wireParty) party() crm.Party {
	if w.ID != "" {
		return crm.Party{Role: w.Role, ContactID: w.ID}
	}
	return crm.Party{Role: w.Role, Address: w.Address}
}

// parties returns the party list to send for an activity of entity e, and
// a note for each party changed or left out:
//   - only the participation types the activity takes; none for a task;
//   - on an appointment the organizer is the calling user (Dataverse
//     refuses any other); the original organizer, when someone else,
//     stays as a required attendee;
//   - a party resolved to a record is bound to it (partyid_contact,
//     partyid_account), otherwise sent by address (addressused).
func (c *Client) parties(ctx context.Context, e crm.Entity, ps []crm.Party) ([]wireParty, []string, error) {
	if ps == nil {
		return nil, nil, nil
	}
	allowed := partyRoles[e]
	if allowed == nil {
		if len(ps) > 0 {
			return nil, []string{fmt.Sprintf("%s: %d part(ies) kept in the store, not sent: Dataverse %ss take none", e, len(ps), e)}, nil
		}
		return nil, nil, nil
	}
	var user caller
	isDataverse := false
	if e == crm.Appointment {
		for _, p := range ps {
			if p.Role == crm.RoleOrganizer {
				u, ok, err := c.whoAmI(ctx)
				if err != nil {
					return nil, nil, err
				}
				user, isDataverse = u, ok
				break
			}
		}
	}
	var out []wireParty
	var notes []string
	var organizers []wireParty
	for _, p := range ps {
		ok := false
		for _, r := range allowed {
			ok = ok || r == p.Role
		}
		if !ok {
			notes = append(notes, fmt.Sprintf("%s: party %s in role %d kept in the store, not sent: Dataverse %ss do not take that role", e, p.Address, p.Role, e))
			continue
		}
		w := wireParty{Role: p.Role, Address: strings.ToLower(strings.TrimSpace(p.Address))}
		if p.ContactID != "" {
			if !IsGUID(p.ContactID) {
				return nil, nil, fmt.Errorf("party id %q is not a GUID", p.ContactID)
			}
			w.Entity, w.ID = crm.Contact, strings.ToLower(p.ContactID)
			if c.resolve != nil {
				if t, err := c.resolve(ctx, w.ID); err == nil && t == crm.Account {
					w.Entity = crm.Account
				}
			}
		}
		if w.ID == "" && w.Address == "" {
			return nil, nil, errors.New("party has neither a record nor an address")
		}
		if p.Role == crm.RoleOrganizer && isDataverse {
			organizers = append(organizers, w)
			continue
		}
		out = append(out, w)
	}
	if isDataverse {
		out = append(out, wireParty{Role: crm.RoleOrganizer, Entity: "systemuser", ID: user.ID})
		for _, o := range organizers {
			if user.Email != "" && o.Address == user.Email && o.ID == "" {
				continue // the organizer is the user
			}
			dup := false
			for _, w := range out {
				dup = dup || (w.Role == crm.RoleRequired || w.Role == crm.RoleOptional) &&
					((o.ID != "" && w.ID == o.ID) || (o.ID == "" && w.ID == "" && w.Address == o.Address))
			}
			if !dup {
				o.Role = crm.RoleRequired
				out = append(out, o)
				notes = append(notes, fmt.Sprintf("%s: organizer %s sent as a required attendee: Dataverse makes the calling user the organizer", e, o.Address))
			}
		}
	}
	return out, notes, nil
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
