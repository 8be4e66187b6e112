package crmstore

import (
	"fmt"
	"sort"

	"crmbridge/crm"
)

// Set changes fields of a record directly: a CRM-side edit (from the CLI),
// not a source version, so there is no merge. Each change is journaled
// with origin, stamped with the current time and queued upstream.
func (t *Tx) Set(id string, fields map[string]string, origin string) ([]string, error) {
	var ent string
	var deleted bool
	if err := t.queryRow(`SELECT entity, deleted FROM record WHERE id = ?`, id).Scan(&ent, &deleted); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if deleted {
		return nil, fmt.Errorf("%s %s is deleted", ent, id)
	}
	e := crm.Entity(ent)
	for name, v := range fields {
		if err := crm.ValidateValue(e, name, v); err != nil {
			return nil, err
		}
	}
	var changed []string
	err := t.savepoint(func() error {
		old, err := t.loadFields(e, id, fields)
		if err != nil {
			return err
		}
		changes := map[string]string{}
		for k, v := range fields {
			if old[k] != v {
				changes[k] = v
			}
		}
		if len(changes) == 0 {
			return nil
		}
		if err := t.deriveFullName(e, id, false, old, changes); err != nil {
			return err
		}
		if err := t.checkSpan(e, id, false, changes); err != nil {
			return err
		}
		if err := t.writeChanges(e, id, old, changes, &crm.Record{}, nil, origin, t.now, true); err != nil {
			return err
		}
		for k := range changes {
			changed = append(changed, k)
		}
		sort.Strings(changed)
		return t.touch(e, id, "update", changed, origin == "upstream", true)
	})
	return changed, err
}

// Create adds a new record made on the CRM side and returns its id.
func (t *Tx) Create(e crm.Entity, fields map[string]string, origin string) (string, error) {
	if !e.Valid() {
		return "", fmt.Errorf("unknown entity %q", e)
	}
	id := newID()
	res, err := t.Apply(&crm.Incoming{
		Source: crm.SourceRef{Kind: "cli", Key: id, Version: t.now},
		Record: crm.Record{ID: id, Entity: e, Fields: fields},
		Origin: origin,
	}, PolicyLocal)
	return res.ID, err
}

// Delete marks a record deleted, journals it and queues the delete.
func (t *Tx) Delete(id, origin string) error {
	var ent string
	var deleted bool
	if err := t.queryRow(`SELECT entity, deleted FROM record WHERE id = ?`, id).Scan(&ent, &deleted); err != nil {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if deleted {
		return nil
	}
	return t.savepoint(func() error {
		if _, err := t.exec(`UPDATE record SET deleted = 1 WHERE id = ?`, id); err != nil {
			return err
		}
		if _, err := t.exec(`INSERT INTO journal (at, record_id, entity, field, old, new, origin) VALUES (?,?,?,?,?,?,?)`,
			t.now, id, ent, fieldDeleted, nil, "true", origin); err != nil {
			return err
		}
		return t.touch(crm.Entity(ent), id, "delete", nil, origin == "upstream", true)
	})
}

// Link sets the regarding record of an activity: a contact, account,
// lead or opportunity.
func (t *Tx) Link(activityID, regardingID, origin string) error {
	var ae, re string
	if err := t.queryRow(`SELECT entity FROM record WHERE id = ? AND deleted = 0`, activityID).Scan(&ae); err != nil {
		return fmt.Errorf("%w: %s", ErrNotFound, activityID)
	}
	if !crm.Entity(ae).IsActivity() {
		return fmt.Errorf("%s is a %s, not an activity", activityID, ae)
	}
	if err := t.queryRow(`SELECT entity FROM record WHERE id = ? AND deleted = 0`, regardingID).Scan(&re); err != nil {
		return fmt.Errorf("%w: %s", ErrNotFound, regardingID)
	}
	switch crm.Entity(re) {
	case crm.Contact, crm.Account, crm.Lead, crm.Opportunity:
	default:
		return fmt.Errorf("an activity can be regarding a contact, account, lead or opportunity, not a %s", re)
	}
	_, err := t.Set(activityID, map[string]string{"regardingobjectid": regardingID}, origin)
	return err
}

// EntityOf returns the entity of record id.
func (t *Tx) EntityOf(id string) (crm.Entity, error) {
	var e string
	if err := t.queryRow(`SELECT entity FROM record WHERE id = ?`, id).Scan(&e); err != nil {
		return "", fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return crm.Entity(e), nil
}

// ExpandID returns the full id of the record id names: a full id, a short
// id (see ShortID) or a unique prefix of either, at least 8 characters. An
// id naming several records gives an *AmbiguousError listing them.
func (t *Tx) ExpandID(id string) (string, error) {
	return resolveID(t, id)
}
