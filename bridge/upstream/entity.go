package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"crmbridge/crm"
)

// entitySets maps each entity to its Dataverse entity set name.
var entitySets = map[crm.Entity]string{
	crm.Contact:     "contacts",
	crm.Account:     "accounts",
	crm.Lead:        "leads",
	crm.Opportunity: "opportunities",
	crm.List:        "lists",
	crm.Email:       "emails",
	crm.Task:        "tasks",
	crm.Appointment: "appointments",
	crm.PhoneCall:   "phonecalls",
	crm.Fax:         "faxes",
	crm.Letter:      "letters",
}

// EntitySet returns the Dataverse entity set of e ("contacts"), or "" when e
// is not pushed.
func EntitySet(e crm.Entity) string { return entitySets[e] }

// EntityOfSet returns the entity whose entity set is set.
func EntityOfSet(set string) (crm.Entity, bool) {
	for e, s := range entitySets {
		if s == set {
			return e, true
		}
	}
	return "", false
}

// EntitySets returns every entity set push and pull use, sorted.
func EntitySets() []string {
	s := make([]string, 0, len(entitySets))
	for _, v := range entitySets {
		s = append(s, v)
	}
	sort.Strings(s)
	return s
}

// KeyAttribute returns the primary key attribute of e: "contactid", or
// "activityid" for every activity type (they share the activitypointer key).
func KeyAttribute(e crm.Entity) string {
	if e.IsActivity() {
		return "activityid"
	}
	return string(e) + "id"
}

// PartiesProperty returns the collection-valued navigation property that
// holds an activity's parties ("email_activity_parties").
func PartiesProperty(e crm.Entity) string { return string(e) + "_activity_parties" }

// RefResolver tells which entity a Ref field's GUID names. It returns ""
// when it does not know; the field's default target is used then.
type RefResolver func(ctx context.Context, id string) (crm.Entity, error)

// refTarget returns the entity a Ref field points to by default.
func refTarget(e crm.Entity, field string) crm.Entity {
	switch field {
	case "parentcustomerid", "parentaccountid":
		return crm.Account
	case "parentcontactid":
		return crm.Contact
	}
	return crm.Contact // regardingobjectid
}

// RefTargets returns the entities Ref field of e may point to.
func RefTargets(e crm.Entity, field string) []crm.Entity {
	switch field {
	case "parentcustomerid":
		return []crm.Entity{crm.Account, crm.Contact}
	case "parentaccountid":
		return []crm.Entity{crm.Account}
	case "parentcontactid":
		return []crm.Entity{crm.Contact}
	case "regardingobjectid":
		return []crm.Entity{crm.Account, crm.Contact, crm.Lead, crm.Opportunity}
	}
	return nil
}

// NavProperty returns the single-valued navigation property that sets Ref
// field of entity e to a record of entity target: Dataverse names a
// polymorphic lookup's properties after the target ("parentcustomerid_account",
// "regardingobjectid_contact_email"), a plain lookup after the attribute.
func NavProperty(e crm.Entity, field string, target crm.Entity) string {
	switch field {
	case "parentcustomerid":
		return field + "_" + string(target)
	case "regardingobjectid":
		return field + "_" + string(target) + "_" + string(e)
	}
	return field
}

// statusCodes lists, per entity and statecode, the valid statuscode values;
// the first is the default Dataverse gives that state. Dataverse rejects a
// statuscode that does not belong to the statecode sent with it, so push
// always sends the pair.
var statusCodes = map[crm.Entity]map[string][]string{
	crm.Email:       {"0": {"1", "8"}, "1": {"2", "3", "4", "6", "7"}, "2": {"5"}},
	crm.Task:        {"0": {"2", "3", "4", "7"}, "1": {"5"}, "2": {"6"}},
	crm.Appointment: {"0": {"1", "2"}, "1": {"3"}, "2": {"4"}, "3": {"5", "6"}},
	crm.PhoneCall:   {"0": {"1"}, "1": {"2", "4"}, "2": {"3"}},
	crm.Fax:         {"0": {"1"}, "1": {"2", "3", "4"}, "2": {"5"}},
	crm.Letter:      {"0": {"1", "2"}, "1": {"3", "4"}, "2": {"5"}},
	crm.Lead:        {"0": {"1", "2"}, "1": {"3"}, "2": {"4", "5", "6", "7"}},
	crm.Opportunity: {"0": {"1", "2"}, "1": {"3"}, "2": {"4", "5"}},
}

// StatusPair returns the statecode and statuscode to send for the given
// values ("" = not given). A missing statuscode gets the state's default; a
// missing statecode is derived from the statuscode.
func StatusPair(e crm.Entity, state, status string) (string, string, error) {
	table := statusCodes[e]
	if table == nil {
		return state, status, nil
	}
	if state == "" {
		for st, codes := range table {
			for _, c := range codes {
				if c == status {
					return st, status, nil
				}
			}
		}
		return "", "", fmt.Errorf("statuscode %q is not valid for %s", status, e)
	}
	codes, ok := table[state]
	if !ok {
		return "", "", fmt.Errorf("statecode %q is not valid for %s", state, e)
	}
	for _, c := range codes {
		if c == status {
			return state, status, nil
		}
	}
	return state, codes[0], nil
}

// ValidStatus reports whether statuscode status belongs to statecode state.
func ValidStatus(e crm.Entity, state, status string) bool {
	for _, c := range statusCodes[e][state] {
		if c == status {
			return true
		}
	}
	return false
}

// encodeBody returns the JSON body of a create or update of entity e: the
// upstream fields in fields, Ref fields as "<nav>@odata.bind", statecode
// with a matching statuscode, and, when withParties, the activity's
// parties: each bound to its record (partyid_<entity>@odata.bind) or by
// address (addressused).
func encodeBody(ctx context.Context, e crm.Entity, fields map[string]string, parties []wireParty, withParties bool, resolve RefResolver) ([]byte, error) {
	body := make(map[string]any, len(fields)+2)
	for name, v := range fields {
		fd, ok := crm.LookupField(e, name)
		if !ok || !fd.Upstream {
			return nil, fmt.Errorf("%s has no upstream field %q", e, name)
		}
		if fd.Kind == crm.Ref {
			nav, val, err := bindRef(ctx, e, name, v, resolve)
			if err != nil {
				return nil, err
			}
			body[nav+"@odata.bind"] = val
			continue
		}
		jv, err := jsonValue(fd.Kind, v)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", e, name, err)
		}
		body[name] = jv
	}
	if statusCodes[e] != nil {
		state, status := fields["statecode"], fields["statuscode"]
		if state != "" || status != "" {
			st, sc, err := StatusPair(e, state, status)
			if err != nil {
				return nil, err
			}
			n1, _ := strconv.Atoi(st)
			n2, _ := strconv.Atoi(sc)
			body["statecode"], body["statuscode"] = n1, n2
		}
	}
	if withParties {
		if !e.IsActivity() {
			return nil, fmt.Errorf("%s has no parties", e)
		}
		ps := make([]map[string]any, 0, len(parties))
		for _, p := range parties {
			if p.Role < crm.RoleSender || p.Role > crm.RoleOrganizer {
				return nil, fmt.Errorf("party role %d is not valid", p.Role)
			}
			m := map[string]any{"participationtypemask": p.Role}
			switch {
			case p.ID != "":
				if !IsGUID(p.ID) {
					return nil, fmt.Errorf("party id %q is not a GUID", p.ID)
				}
				m["partyid_"+string(p.Entity)+"@odata.bind"] = "/" + string(p.Entity) + "s(" + p.ID + ")"
			case p.Address != "":
				m["addressused"] = p.Address
			default:
				return nil, fmt.Errorf("party has neither a record nor an address")
			}
			ps = append(ps, m)
		}
		body[PartiesProperty(e)] = ps
	}
	return json.Marshal(body)
}

func bindRef(ctx context.Context, e crm.Entity, field, id string, resolve RefResolver) (string, any, error) {
	target := refTarget(e, field)
	if id == "" {
		// Dataverse: a single-valued navigation property set to null in a
		// PATCH removes the reference.
		return NavProperty(e, field, target), nil, nil
	}
	if !IsGUID(id) {
		return "", nil, fmt.Errorf("%s.%s: %q is not a GUID", e, field, id)
	}
	if resolve != nil {
		t, err := resolve(ctx, id)
		if err != nil {
			return "", nil, fmt.Errorf("resolve %s.%s %s: %w", e, field, id, err)
		}
		for _, ok := range RefTargets(e, field) {
			if t == ok {
				target = t
			}
		}
	}
	return NavProperty(e, field, target), "/" + EntitySet(target) + "(" + id + ")", nil
}

func jsonValue(k crm.Kind, v string) (any, error) {
	if v == "" {
		return nil, nil
	}
	switch k {
	case crm.Int, crm.Option:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", v)
		}
		return n, nil
	case crm.Bool:
		switch v {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not true or false", v)
	case crm.Time:
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return nil, fmt.Errorf("%q is not an RFC 3339 time", v)
		}
		return t.UTC().Format(time.RFC3339), nil
	case crm.Date:
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return nil, fmt.Errorf("%q is not a date", v)
		}
	}
	return v, nil
}

// DecodeRecord turns a record as the Web API returns it (a JSON object)
// into canonical field values of entity e: upstream fields only, a lookup
// read from its "_<field>_value" property, null as "". Properties the
// object lacks are absent from the result. It also returns the
// @odata.etag and modifiedon annotations when present.
func DecodeRecord(e crm.Entity, obj map[string]json.RawMessage) (fields map[string]string, etag string, modified time.Time, err error) {
	fields = make(map[string]string)
	for _, fd := range crm.Fields(e) {
		if !fd.Upstream {
			continue
		}
		key := fd.Name
		if fd.Kind == crm.Ref {
			key = "_" + fd.Name + "_value"
		}
		raw, ok := obj[key]
		if !ok {
			continue
		}
		v, err := canonical(fd.Kind, raw)
		if err != nil {
			return nil, "", time.Time{}, fmt.Errorf("%s.%s: %w", e, fd.Name, err)
		}
		fields[fd.Name] = v
	}
	if raw, ok := obj["@odata.etag"]; ok {
		_ = json.Unmarshal(raw, &etag)
	}
	if raw, ok := obj["modifiedon"]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			modified, _ = time.Parse(time.RFC3339Nano, s)
		}
	}
	return fields, etag, modified, nil
}

func canonical(k crm.Kind, raw json.RawMessage) (string, error) {
	var v any
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return "", err
	}
	switch x := v.(type) {
	case nil:
		return "", nil
	case bool:
		return strconv.FormatBool(x), nil
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return strconv.FormatInt(n, 10), nil
		}
		f, err := x.Float64()
		if err != nil || f != float64(int64(f)) {
			return x.String(), nil
		}
		return strconv.FormatInt(int64(f), 10), nil
	case string:
		switch k {
		case crm.Time:
			t, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return x, nil
			}
			return t.UTC().Truncate(time.Second).Format(time.RFC3339), nil
		case crm.Date:
			if len(x) > 10 && x[10] == 'T' {
				return x[:10], nil
			}
		case crm.Ref:
			return strings.ToLower(x), nil
		}
		return x, nil
	}
	return "", fmt.Errorf("unexpected JSON value %s", raw)
}

// IsGUID reports whether s is a GUID in the canonical 8-4-4-4-12 hex form.
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
