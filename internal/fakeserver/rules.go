package fakeserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf16"

	"crmbridge/crm"
)

// DefaultUserID is the systemuserid WhoAmI answers unless Server.UserID is
// set.
const DefaultUserID = "5a1e0000-0000-4000-8000-00000000beef"

// DefaultMaxLength returns the string column limits the server enforces
// unless Server.MaxLength is set: Dataverse's shipped MaxLength of each
// column crmbridge sends, from the table/entity reference pages
// (https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/contact,
// …/account, …/lead, …/opportunity, …/list, …/email, …/task,
// …/appointment, …/phonecall, …/fax, …/letter). Kept apart from the
// client's built-in table on purpose: the test compares two sources.
func DefaultMaxLength() map[crm.Entity]map[string]int {
	addr := map[string]int{"name": 200, "line1": 250, "line2": 250, "line3": 250, "city": 80,
		"stateorprovince": 50, "postalcode": 20, "country": 80, "postofficebox": 20}
	contact := map[string]int{"salutation": 100, "firstname": 50, "middlename": 50, "lastname": 50, "suffix": 10,
		"nickname": 100, "emailaddress1": 100, "emailaddress2": 100, "emailaddress3": 100, "telephone1": 50,
		"telephone2": 50, "telephone3": 50, "mobilephone": 50, "fax": 50, "pager": 50, "jobtitle": 100,
		"department": 100, "spousesname": 100, "websiteurl": 200, "description": 2000}
	account := map[string]int{"name": 160, "telephone1": 50, "fax": 50, "emailaddress1": 100, "websiteurl": 200, "description": 2000}
	for _, n := range []string{"1", "2", "3"} {
		for part, l := range addr {
			contact["address"+n+"_"+part] = l
			if n == "1" {
				account["address"+n+"_"+part] = l
			}
		}
	}
	activity := func(extra map[string]int) map[string]int {
		m := map[string]int{"subject": 200, "description": 1048576, "category": 250}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	return map[crm.Entity]map[string]int{
		crm.Contact:     contact,
		crm.Account:     account,
		crm.Lead:        {"subject": 300, "firstname": 50, "lastname": 50, "companyname": 100, "emailaddress1": 100, "telephone1": 50, "mobilephone": 20, "jobtitle": 100, "description": 2000},
		crm.Opportunity: {"name": 300, "description": 2000},
		crm.List:        {"listname": 128, "description": 2000},
		crm.Email:       activity(map[string]int{"subject": 800, "sender": 250, "torecipients": 500, "messageid": 320, "inreplyto": 320, "conversationindex": 2048}),
		crm.Task:        activity(map[string]int{"description": 2000}),
		crm.Appointment: activity(map[string]int{"location": 200, "globalobjectid": 300}),
		crm.PhoneCall:   activity(map[string]int{"phonenumber": 200}),
		crm.Fax:         activity(map[string]int{"faxnumber": 50}),
		crm.Letter:      activity(map[string]int{"address": 200}),
	}
}

// partyRoles lists the participation types each activity takes. From
// "Activity Party types available for each activity"
// (https://learn.microsoft.com/power-apps/developer/data-platform/activityparty-entity):
// an appointment has required and optional attendees and one organizer,
// an e-mail a sender and To/Cc/Bcc, a fax and a phone call a sender and a
// recipient, a letter a sender, recipients and Bcc. A task has no party
// list at all: its owner is the user.
var partyRoles = map[crm.Entity][]int{
	crm.Appointment: {crm.RoleRequired, crm.RoleOptional, crm.RoleOrganizer},
	crm.Email:       {crm.RoleSender, crm.RoleTo, crm.RoleCc, crm.RoleBcc},
	crm.Fax:         {crm.RoleSender, crm.RoleTo},
	crm.PhoneCall:   {crm.RoleSender, crm.RoleTo},
	crm.Letter:      {crm.RoleSender, crm.RoleTo, crm.RoleBcc},
}

// minDate is the earliest value a Dataverse date and time column holds:
// "All date and time columns in Dataverse support values as early as
// 1/1/1753 12:00 AM"
// (https://learn.microsoft.com/power-apps/developer/data-platform/behavior-format-date-time-attribute).
var minDate = time.Date(1753, 1, 1, 0, 0, 0, 0, time.UTC)

// ruleError is a request Dataverse refuses for its content (not a client
// protocol error): status and Dataverse's error code.
type ruleError struct {
	status int
	code   string
	msg    string
}

func (e *ruleError) Error() string { return e.msg }

// checkValues applies the column rules to decoded values: a string no
// longer than its column's MaxLength (Dataverse answers 0x80044331), a
// date or time not before 1753-01-01.
func (s *Server) checkValues(e crm.Entity, fields map[string]string) error {
	if s.Style != Dataverse {
		return nil
	}
	limits := s.MaxLength
	if limits == nil {
		limits = DefaultMaxLength()
	}
	for k, v := range fields {
		fd, ok := crm.LookupField(e, k)
		if !ok {
			continue
		}
		switch fd.Kind {
		case crm.Text:
			// MaxLength counts UTF-16 code units (nvarchar).
			if max, ok := limits[e][k]; ok && len(utf16.Encode([]rune(v))) > max {
				return &ruleError{http.StatusBadRequest, "0x80044331",
					fmt.Sprintf("A validation error occurred. The length of the '%s' attribute of the '%s' entity exceeded the maximum allowed length of '%d'.", k, e, max)}
			}
		case crm.Date, crm.Time:
			if v == "" {
				continue
			}
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				t, err = time.Parse(time.DateOnly, v)
			}
			if err == nil && t.Before(minDate) {
				return &ruleError{http.StatusBadRequest, "0x80040278",
					fmt.Sprintf("%s.%s: %s is before the minimum date 1753-01-01", e, k, v)}
			}
		}
	}
	return nil
}

// checkParties applies the activity party rules: only the participation
// types the activity takes (none on a task), one organizer on an
// appointment and that organizer a system user (a contact or a bare
// address is refused), and every bound party an existing record.
func (s *Server) checkParties(e crm.Entity, ps []boundParty) error {
	if s.Style != Dataverse {
		return nil
	}
	allowed := partyRoles[e]
	if allowed == nil {
		return &ruleError{http.StatusBadRequest, "0x0",
			fmt.Sprintf("An undeclared property '%s_activity_parties' which only has property annotations in the payload but no property value was found in the payload.", e)}
	}
	organizers := 0
	for i, p := range ps {
		ok := false
		for _, r := range allowed {
			ok = ok || r == p.Role
		}
		if !ok {
			return &ruleError{http.StatusBadRequest, "0x80040203", fmt.Sprintf("party %d: participation type %d is not valid for %s", i, p.Role, e)}
		}
		if p.Role == crm.RoleOrganizer {
			organizers++
			if p.bound != "systemuser" {
				return &ruleError{http.StatusBadRequest, "0x80040203",
					fmt.Sprintf("party %d: the organizer of an appointment must be a system user (partyid_systemuser), not %q", i, p.bound+p.Address)}
			}
		}
		if p.bound != "" && !s.exists(p.bound, p.ContactID) {
			return &ruleError{http.StatusNotFound, "0x80040217", fmt.Sprintf("%s With Id = %s Does Not Exist", p.bound, p.ContactID)}
		}
	}
	if organizers > 1 {
		return &ruleError{http.StatusBadRequest, "0x80040203", "an appointment has at most one organizer"}
	}
	return nil
}

// checkBind refuses a lookup bound to a row that does not exist, as
// Dataverse does with 404 ("<entity> With Id = <id> Does Not Exist"); see
// "Associate table rows on create"
// (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-entity-web-api#associate-table-rows-on-create).
func (s *Server) checkBind(entity, id string) *ruleError {
	if s.Style != Dataverse || s.exists(entity, id) {
		return nil
	}
	return &ruleError{http.StatusNotFound, "0x80040217", fmt.Sprintf("%s With Id = %s Does Not Exist", entity, id)}
}

// exists reports whether a record of logical name entity exists.
func (s *Server) exists(entity, id string) bool {
	if entity == "systemuser" {
		return id == s.userID()
	}
	if s.recs == nil {
		return false
	}
	for _, set := range []string{entity + "s", entity + "es"} {
		if _, ok := s.recs[set+"("+id+")"]; ok {
			return true
		}
	}
	return false
}

func (s *Server) userID() string {
	if s.UserID != "" {
		return s.UserID
	}
	return DefaultUserID
}

// boundParty is a decoded activity party; bound is the logical name of the
// record partyid binds to ("" = address only), ContactID its id.
type boundParty struct {
	crm.Party
	bound string
}

// serveFunction answers the unbound function and metadata reads push uses,
// or ok=false when rel is not one of them:
//
//   - WhoAmI: the calling user
//     (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/whoami),
//   - systemusers(<id>): the user's record (its internalemailaddress),
//   - EntityDefinitions(LogicalName='<entity>')/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata:
//     the string columns' MaxLength
//     (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api).
func (s *Server) serveFunction(method, rel string) (answer, bool) {
	rel = strings.TrimSuffix(rel, "()")
	switch {
	case rel == "WhoAmI":
		if s.Style != Dataverse {
			return errAnswer(http.StatusNotFound, "404", "Invalid resource path"), true
		}
		s.whoAmIs++
		return jsonAnswer(map[string]any{"UserId": s.userID(), "BusinessUnitId": DefaultUserID, "OrganizationId": DefaultUserID}), true
	case strings.HasPrefix(rel, "systemusers("):
		if s.Style != Dataverse {
			return errAnswer(http.StatusNotFound, "404", "Invalid resource path"), true
		}
		_, id, _ := splitPath(rel)
		if !strings.EqualFold(id, s.userID()) {
			return errAnswer(http.StatusNotFound, "0x80040217", "systemuser With Id = "+id+" Does Not Exist"), true
		}
		return jsonAnswer(map[string]any{"systemuserid": s.userID(), "internalemailaddress": s.UserEmail}), true
	case strings.HasPrefix(rel, "EntityDefinitions("):
		s.metadataReads++
		if s.Style != Dataverse || s.NoMetadata {
			return errAnswer(http.StatusForbidden, "0x80040220", "Principal user is missing prvReadEntity privilege"), true
		}
		const pre, post = "EntityDefinitions(LogicalName='", "')/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata"
		name, ok := strings.CutPrefix(rel, pre)
		name, ok2 := strings.CutSuffix(name, post)
		if !ok || !ok2 || method != http.MethodGet {
			s.violate("%s %s: unsupported metadata request", method, rel)
			return errAnswer(http.StatusBadRequest, "0x0", "unsupported metadata request"), true
		}
		limits := s.MaxLength
		if limits == nil {
			limits = DefaultMaxLength()
		}
		var vals []map[string]any
		for k, l := range limits[crm.Entity(name)] {
			vals = append(vals, map[string]any{"LogicalName": k, "MaxLength": l})
		}
		return jsonAnswer(map[string]any{"value": vals}), true
	}
	return answer{}, false
}

func jsonAnswer(v any) answer {
	b, _ := json.Marshal(v)
	h := http.Header{}
	h.Set("Content-Type", "application/json; odata.metadata=minimal")
	return answer{status: http.StatusOK, header: h, body: b}
}

// WhoAmICalls returns how many times WhoAmI was called.
func (s *Server) WhoAmICalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.whoAmIs
}

// MetadataReads returns how many metadata requests were served.
func (s *Server) MetadataReads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.metadataReads
}
