package crmstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"crmbridge/crm"
)

// fieldMemberIDs is the upstream merge base of a list's members: the
// sorted contact ids the server held when the list was last synced (what
// push sent, or what pull read), as a JSON array, kept beside the
// upstream provenance's field bases. Members are merged by contact id,
// not by address and name (canonParties), because the server knows a
// member only as a contact.
const fieldMemberIDs = "_memberids"

// memberBase returns the member merge base of list id; ok is false when
// none was recorded (a list never synced with members).
func (t *Tx) memberBase(id string) (ids []string, ok bool, err error) {
	provID, err := t.sourceID("upstream", id)
	if err != nil {
		return nil, false, fmt.Errorf("member base of %s: %w", id, err)
	}
	if provID == 0 {
		return nil, false, nil
	}
	js, found, err := t.baseValue(provID, fieldMemberIDs)
	if err != nil || !found {
		return nil, false, err
	}
	if err := json.Unmarshal([]byte(js), &ids); err != nil {
		return nil, false, fmt.Errorf("member base of %s: %w", id, err)
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, true, nil
}

// setMemberBase records ids as list id's member merge base, under its
// upstream provenance (created with version when missing).
func (t *Tx) setMemberBase(id, version string, ids []string) error {
	if version == "" {
		version = "sent " + t.now
	}
	provID, err := t.upstreamSource(id, version, false)
	if err != nil {
		return fmt.Errorf("upstream provenance of %s: %w", id, err)
	}
	set := map[string]bool{}
	for _, m := range ids {
		set[strings.ToLower(m)] = true
	}
	js, _ := json.Marshal(sortedSet(set))
	if _, err := t.exec(`INSERT INTO base (provenance_id, field, value) VALUES (?, ?, ?)
		ON CONFLICT (provenance_id, field) DO UPDATE SET value = excluded.value`, provID, fieldMemberIDs, string(js)); err != nil {
		return fmt.Errorf("member base of %s: %w", id, err)
	}
	return nil
}

// memberContacts returns the contact ids list id's members resolve to.
func (t *Tx) memberContacts(id string) (map[string]bool, error) {
	ms, err := t.loadParties(`SELECT 0, address, name, '', COALESCE(contact_id, '') FROM listmember WHERE list_id = ? ORDER BY ord`, id)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, m := range ms {
		if m.ContactID != "" {
			out[strings.ToLower(m.ContactID)] = true
		}
	}
	return out, nil
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// MemberMerge is what PullMembers did.
type MemberMerge struct {
	Added, Removed int // members added to and removed from the store's list
	// Unknown lists members the server holds whose contact the store does
	// not have (its pull failed, or it is outside what was pulled): not
	// added, and not taken into the merge base, so a later pull tries
	// again.
	Unknown []string
}

// PullMembers merges the members the server holds for list id (contact
// ids) into the store, member by member against the merge base (the
// contact ids last sent or read): a member added or removed on one side
// since the base is added or removed here, so local changes not pushed
// yet and the server's changes both survive; when both sides moved the
// same member they agree (membership has two states), so there is no
// conflict to record. Without a base (a list synced before bases were
// kept), members on either side are kept (nothing is removed). Members
// known only by address are local and untouched. The base becomes the
// server's members; when the result differs from them (local changes), a
// members change is queued unless one is. The change is journaled with
// origin "upstream". A list the store lacks or deleted is ignored.
func (s *Store) PullMembers(ctx context.Context, id string, server []string) (MemberMerge, error) {
	var mm MemberMerge
	err := s.Update(ctx, func(t *Tx) error {
		mm = MemberMerge{}
		var ent string
		var deleted bool
		switch err := t.queryRow(`SELECT entity, deleted FROM record WHERE id = ?`, id).Scan(&ent, &deleted); {
		case err == sql.ErrNoRows:
			return nil
		case err != nil:
			return err
		case deleted || crm.Entity(ent) != crm.List:
			return nil
		}
		srv := map[string]bool{}
		for _, m := range server {
			srv[strings.ToLower(m)] = true
		}
		local, err := t.memberContacts(id)
		if err != nil {
			return err
		}
		baseIDs, hasBase, err := t.memberBase(id)
		if err != nil {
			return err
		}
		base := map[string]bool{}
		if hasBase {
			for _, m := range baseIDs {
				base[m] = true
			}
		} else {
			for m := range local {
				base[m] = srv[m] // agreed members only: a one-sided member stays
			}
		}
		// Per member: the side that moved since the base wins.
		want := map[string]bool{}
		for _, ids := range []map[string]bool{local, srv, base} {
			for m := range ids {
				if local[m] == base[m] {
					want[m] = srv[m]
				} else {
					want[m] = local[m]
				}
			}
		}
		var add []string
		var drop = map[string]bool{}
		for _, m := range sortedSet(want) {
			switch {
			case want[m] && !local[m]:
				add = append(add, m)
			case !want[m] && local[m]:
				drop[m] = true
			}
		}
		newBase := map[string]bool{}
		for m := range srv {
			newBase[m] = true
		}
		ms, err := t.loadParties(`SELECT 0, address, name, '', COALESCE(contact_id, '') FROM listmember WHERE list_id = ? ORDER BY ord`, id)
		if err != nil {
			return err
		}
		old := canonParties(ms)
		var next []crm.Party
		for _, m := range ms {
			if m.ContactID != "" && drop[strings.ToLower(m.ContactID)] {
				mm.Removed++
				continue
			}
			next = append(next, m)
		}
		for _, c := range add {
			var addr, name string
			err := t.queryRow(`SELECT COALESCE(NULLIF(c.emailaddress1, ''), NULLIF(c.emailaddress2, ''), c.emailaddress3, ''), COALESCE(c.fullname, '')
				FROM contact c JOIN record r ON r.id = c.id AND r.deleted = 0 WHERE c.id = ?`, c).Scan(&addr, &name)
			if err == sql.ErrNoRows {
				mm.Unknown = append(mm.Unknown, c)
				delete(newBase, c)
				continue
			}
			if err != nil {
				return fmt.Errorf("member %s: %w", c, err)
			}
			next = append(next, crm.Party{Address: addr, Name: name, ContactID: c})
			mm.Added++
		}
		if mm.Added+mm.Removed > 0 {
			if next == nil {
				next = []crm.Party{}
			}
			changes := map[string]string{fieldMembers: canonParties(next)}
			if err := t.writeChanges(crm.List, id, map[string]string{fieldMembers: old}, changes, &crm.Record{Members: next},
				nil, "upstream", t.now, true); err != nil {
				return err
			}
			if _, err := t.exec(`UPDATE record SET modified_at = ? WHERE id = ?`, t.now, id); err != nil {
				return err
			}
		}
		var etag string
		_ = t.queryRow(`SELECT etag FROM upstream WHERE record_id = ?`, id).Scan(&etag)
		if err := t.setMemberBase(id, etag, sortedSet(newBase)); err != nil {
			return err
		}
		// What the store holds now beyond the server's members goes up.
		differs := false
		for m, in := range want {
			differs = differs || in != srv[m]
		}
		if !differs {
			return nil
		}
		var queued int
		if err := t.queryRow(`SELECT EXISTS (SELECT 1 FROM outbox WHERE record_id = ? AND (op != 'update' OR fields LIKE '%"_members"%'))`, id).Scan(&queued); err != nil {
			return err
		}
		if queued == 0 {
			return t.touch(crm.List, id, "update", []string{fieldMembers}, false, false)
		}
		return nil
	})
	if err != nil {
		return mm, fmt.Errorf("pull members of list %s: %w", id, err)
	}
	return mm, nil
}
