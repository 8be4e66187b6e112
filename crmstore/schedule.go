package crmstore

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"crmbridge/crm"
)

// iTIP (RFC 5546) in the store. An appointment or task read from an
// iCalendar message, or from an Outlook meeting object (a meeting request,
// response or cancellation, a meeting in a calendar), carries its
// scheduling version (crm.Schedule). The
// rules, whatever order the messages are read in, in one run or many:
//
//   - A version of the event (PUBLISH, REQUEST, ADD, CANCEL, no METHOD)
//     older than the one the record holds (crm.Schedule.Compare: lower
//     SEQUENCE, or equal SEQUENCE and earlier DTSTAMP) changes nothing:
//     Apply returns Unchanged with a Note. A newer one takes every field
//     an older version set (their clocks do not matter; fromScheduler) and
//     merges the others as any version does; the same version (or one
//     without DTSTAMP) merges as any version does. A newer whole version
//     (PUBLISH, REQUEST, none) replaces the organizer's fields: one it
//     lacks that an older version set is cleared (dropOrganizerFields).
//     The record remembers the newest version applied.
//   - A CANCEL of an event the store holds changes only its state
//     (statecode 2 canceled, statuscode 4), and that of the occurrences it
//     holds apart (exceptions of the same UID); with RECURRENCE-ID it is
//     the occurrence's record that is canceled.
//   - A REPLY changes only the replying attendees' PARTSTAT, and only when
//     it answers the event's current SEQUENCE or a later one; an
//     attendee's later reply wins over an earlier one. Replies are kept, so
//     that a REQUEST of the SEQUENCE a reply answers, read after the reply,
//     does not undo it.
//   - COUNTER, DECLINECOUNTER and REFRESH change nothing (a proposal or a
//     request): Unchanged with a Note.
//   - A REPLY, COUNTER, DECLINECOUNTER or REFRESH for an event the store
//     does not hold is refused with ErrUnknownEvent: there is nothing to
//     apply it to, and it is not an event to create.

// ErrUnknownEvent refuses an attendee's REPLY (or a COUNTER, REFRESH,
// DECLINECOUNTER) for an event the store does not hold.
var ErrUnknownEvent = errors.New("the store holds no event with this UID")

// scheduled reports whether in is an iTIP version of an item the rules
// above apply to.
func scheduled(in *crm.Incoming) bool {
	e := in.Record.Entity
	return in.Schedule != nil && (e == crm.Appointment || e == crm.Task)
}

// storedSchedule returns the version the record holds; ok is false when it
// holds none (created before, or from a source without one).
func (t *Tx) storedSchedule(id string) (s crm.Schedule, ok bool, err error) {
	var stamp string
	err = t.queryRow(`SELECT sequence, stamp FROM schedule WHERE record_id = ?`, id).Scan(&s.Sequence, &stamp)
	if err == sql.ErrNoRows {
		return s, false, nil
	}
	if err != nil {
		return s, false, fmt.Errorf("load schedule: %w", err)
	}
	s.Stamp, _ = time.Parse(time.RFC3339Nano, stamp)
	return s, true, nil
}

// compareVersion compares a version of an event the store holds as id
// with the version the record holds: note says why it is older ("" when
// it is not); newer is true when it is newer, or the record holds none;
// held is true when the record holds one.
func (t *Tx) compareVersion(in *crm.Incoming, id string) (note string, newer, held bool, err error) {
	cur, ok, err := t.storedSchedule(id)
	if err != nil {
		return "", false, false, err
	}
	if !ok {
		return "", true, false, nil
	}
	switch in.Schedule.Compare(cur) {
	case -1:
		return fmt.Sprintf("older version (%s) than the one held (%s), not applied", in.Schedule, cur), false, true, nil
	case 1:
		return "", true, true, nil
	}
	return "", false, true, nil
}

// fromScheduler reports whether a field state's origin is a source whose
// versions carry an iTIP version: iCalendar ("ics", "ics:/path/file.ics")
// and Outlook's meeting objects ("pst:...", "msg:...", MS-OXCICAL maps
// their sequence and critical-change times to SEQUENCE and DTSTAMP). A
// version of an event newer by iTIP order takes the fields an older
// version (or a REPLY) from such a source set, whatever their clocks say;
// fields set by another origin (a CLI edit, the upstream) are merged by
// the conflict policy.
func fromScheduler(by string) bool {
	kind, _, _ := strings.Cut(by, ":")
	switch kind {
	case "ics", "pst", "msg":
		return true
	}
	return false
}

// dropOrganizerFields adds to the fields of a newer whole version of an
// event (crm.Schedule.Replaces) the organizer's fields it does not give,
// empty, when an older scheduled version set them: the new version
// replaces them all, so what it dropped (a LOCATION, an RRULE) is
// cleared. A field last changed by another origin (a CLI edit, the
// upstream) is left to the merge, which keeps it. A version without a
// start (RFC 5545 3.6.1 and RFC 5546 3.2.2 require DTSTART) does not say
// when the event is: it clears none of its times.
func (t *Tx) dropOrganizerFields(e crm.Entity, id string, theirs map[string]string) error {
	var states map[string]fieldState
	_, timed := theirs["scheduledstart"]
	for _, f := range crm.OrganizerFields(e) {
		if _, ok := theirs[f]; ok {
			continue
		}
		if !timed && (slices.Contains(spanFields, f) || f == "timezone") {
			continue
		}
		if states == nil {
			var err error
			if states, err = t.loadFieldStates(id); err != nil {
				return err
			}
		}
		st, ok := states[f]
		if !ok {
			st = states["*"]
		}
		if fromScheduler(st.by) {
			theirs[f] = ""
		}
	}
	return nil
}

// cancelOnly leaves of a CANCEL of an event the store holds only what a
// cancellation changes: the state.
func cancelOnly(rec *crm.Record) {
	f := map[string]string{}
	for _, k := range []string{"statecode", "statuscode"} {
		if v, ok := rec.Fields[k]; ok {
			f[k] = v
		}
	}
	rec.Fields, rec.Parties, rec.Attachments, rec.Extras, rec.Members = f, nil, nil, nil, nil
}

// cancelOccurrences cancels the occurrences held apart (exceptions: same
// UID, a RECURRENCE-ID) of a series whose master id was just cancelled:
// a CANCEL without RECURRENCE-ID cancels the whole event (RFC 5546
// 3.2.5). A cancelled occurrence has nothing to cancel.
func (t *Tx) cancelOccurrences(e crm.Entity, id, origin string) error {
	if e != crm.Appointment {
		return nil
	}
	cur, err := t.loadFields(e, id, map[string]string{"uid": "", "recurrenceid": ""})
	if err != nil || cur["uid"] == "" || cur["recurrenceid"] != "" {
		return err
	}
	rows, err := t.query(`SELECT a.id FROM activity a JOIN record r ON r.id = a.id AND r.deleted = 0
		WHERE a.activitytypecode = 'appointment' AND a.uid = ? AND a.recurrenceid IS NOT NULL AND a.id != ? AND COALESCE(a.statecode, '') != '2'`, cur["uid"], id)
	if err != nil {
		return fmt.Errorf("find occurrences: %w", err)
	}
	var ids []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, o)
	}
	rows.Close()
	for _, o := range ids {
		if _, err := t.Set(o, map[string]string{"statecode": "2", "statuscode": "4"}, origin); err != nil {
			return fmt.Errorf("cancel occurrence %s: %w", o, err)
		}
	}
	return nil
}

// saveSchedule remembers the version an applied event version gave the
// record (never lowering it), then applies again the replies that answer
// that SEQUENCE or a later one: a REQUEST rewrites the attendees with its
// own PARTSTATs, which a reply read before it must not lose.
func (t *Tx) saveSchedule(in *crm.Incoming, id, origin, at string) (bool, error) {
	cur, ok, err := t.storedSchedule(id)
	if err != nil {
		return false, err
	}
	s := *in.Schedule
	if !ok || s.Compare(cur) > 0 || s.Sequence == cur.Sequence && cur.Stamp.IsZero() {
		if _, err := t.exec(`INSERT INTO schedule (record_id, sequence, stamp) VALUES (?,?,?)
			ON CONFLICT (record_id) DO UPDATE SET sequence = excluded.sequence, stamp = excluded.stamp`,
			id, s.Sequence, fmtTime(s.Stamp)); err != nil {
			return false, fmt.Errorf("store schedule: %w", err)
		}
	} else {
		s = cur
	}
	rows, err := t.query(`SELECT address, status FROM reply WHERE record_id = ? AND sequence >= ?`, id, s.Sequence)
	if err != nil {
		return false, fmt.Errorf("load replies: %w", err)
	}
	statuses := map[string]string{}
	for rows.Next() {
		var a, st string
		if err := rows.Scan(&a, &st); err != nil {
			rows.Close()
			return false, err
		}
		statuses[a] = st
	}
	rows.Close()
	if len(statuses) == 0 {
		return false, nil
	}
	changed, _, err := t.setStatuses(in.Record.Entity, id, statuses, origin, at)
	return changed, err
}

// applyAnswer applies a REPLY, COUNTER, DECLINECOUNTER or REFRESH (see
// the rules above) to the record its keys name.
func (t *Tx) applyAnswer(in *crm.Incoming, policy Policy, provID int64, recID string) (Result, error) {
	e := in.Record.Entity
	origin := in.Origin
	if origin == "" {
		origin = in.Source.Kind
	}
	s := in.Schedule
	if recID == "" {
		for _, k := range in.Keys {
			if !strings.HasPrefix(k, "uid:") {
				continue // a content key names the message, not the event
			}
			id, err := t.lookupKey(string(e), k)
			if err != nil {
				return Result{}, err
			}
			if id == "" {
				continue
			}
			recID = id
			break
		}
	}
	var notes []string
	created := false
	if recID == "" {
		id, err := t.holdOccurrenceApart(in, policy, provID)
		if err != nil {
			return Result{}, err
		}
		if id != "" {
			recID, created = id, true
			notes = append(notes, fmt.Sprintf("occurrence %s of the series held apart, as a record of its own, to apply the %s", in.Record.Fields["recurrenceid"], s.Method))
		}
	}
	if recID == "" {
		uid := in.Record.Fields["uid"]
		return Result{}, fmt.Errorf("%s for %s UID %q: %w; not applied (import the invitation, then this file again)", s.Method, e, uid, ErrUnknownEvent)
	}
	res := Result{ID: recID, Outcome: Unchanged, Known: provID != 0}
	if created {
		res.Outcome, res.Known = Created, false
	}
	if s.Method != crm.MethodReply {
		notes = append(notes, fmt.Sprintf("%s from %s: a proposal or request, the event is not changed", s, attendeeList(in.Record.Parties)))
	} else {
		cur, held, err := t.storedSchedule(recID)
		if err != nil {
			return Result{}, err
		}
		statuses := map[string]string{}
		for _, p := range in.Record.Parties {
			a := strings.ToLower(strings.TrimSpace(p.Address))
			if p.Role == crm.RoleOrganizer || a == "" || p.Status == "" {
				continue
			}
			var prevSeq int
			var prevStamp string
			err := t.queryRow(`SELECT sequence, stamp FROM reply WHERE record_id = ? AND address = ?`, recID, a).Scan(&prevSeq, &prevStamp)
			if err != nil && err != sql.ErrNoRows {
				return Result{}, fmt.Errorf("load reply: %w", err)
			}
			if err == nil {
				prev := crm.Schedule{Sequence: prevSeq}
				prev.Stamp, _ = time.Parse(time.RFC3339Nano, prevStamp)
				if s.Compare(prev) < 0 {
					notes = append(notes, fmt.Sprintf("REPLY of %s (%s) is older than the one held (%s), not applied", a, s, prev))
					continue
				}
			}
			if _, err := t.exec(`INSERT INTO reply (record_id, address, status, sequence, stamp, origin) VALUES (?,?,?,?,?,?)
				ON CONFLICT (record_id, address) DO UPDATE SET status = excluded.status, sequence = excluded.sequence, stamp = excluded.stamp, origin = excluded.origin`,
				recID, a, p.Status, s.Sequence, fmtTime(s.Stamp), origin); err != nil {
				return Result{}, fmt.Errorf("store reply: %w", err)
			}
			if held && s.Sequence < cur.Sequence {
				// RFC 5546 2.1.5: it answers a version the organizer has
				// since replaced.
				notes = append(notes, fmt.Sprintf("REPLY of %s answers SEQUENCE %d, the event is at %d: not applied", a, s.Sequence, cur.Sequence))
				continue
			}
			statuses[a] = p.Status
		}
		at := t.now
		if !s.Stamp.IsZero() {
			at = fmtTime(s.Stamp)
		}
		changed, missing, err := t.setStatuses(e, recID, statuses, origin, at)
		if err != nil {
			return Result{}, err
		}
		for _, a := range missing {
			notes = append(notes, fmt.Sprintf("REPLY of %s, who is not an attendee of the event: kept, applied if a later version invites them", a))
		}
		if changed && !created {
			res.Outcome, res.Changed = Updated, []string{fieldParties}
		}
	}
	res.Note = strings.Join(notes, "; ")
	if _, err := t.saveProvenance(provID, recID, in, origin); err != nil {
		return Result{}, err
	}
	return res, nil
}

// occurrenceOnly are the fields of a series that the record of one of
// its occurrences does not take: the pattern, Outlook's form of it, the
// link to a series.
var occurrenceOnly = map[string]bool{"recurrence": true, "recurrenceblob": true, "seriesid": true, "recurrenceid": true}

// holdOccurrenceApart creates the record of the occurrence an answer
// names (RECURRENCE-ID) when the store holds it only inside its series
// (the appointment of the same UID without recurrence id, with a
// recurrence): the series at that instant (RFC 5545 3.8.4.4: the
// occurrence starts at its recurrence id and lasts as the series does;
// the series' fields but its pattern, its parties, its scheduling
// version), keyed and sourced as the answer, so that the answer changes
// that occurrence's participation and not the series' (RFC 5546 3.2.3: a
// REPLY with RECURRENCE-ID answers that instance). It returns "" when the
// answer names no occurrence or the store holds no such series.
func (t *Tx) holdOccurrenceApart(in *crm.Incoming, policy Policy, provID int64) (string, error) {
	e := in.Record.Entity
	rid, uid := in.Record.Fields["recurrenceid"], in.Record.Fields["uid"]
	if e != crm.Appointment || rid == "" || uid == "" {
		return "", nil
	}
	ridT, err := time.Parse(time.RFC3339, rid)
	if err != nil {
		return "", nil
	}
	seriesID, err := t.lookupKey(string(e), "uid:"+uid)
	if err != nil || seriesID == "" {
		return "", err
	}
	want := map[string]string{}
	for _, fd := range crm.Fields(e) {
		want[fd.Name] = ""
	}
	cur, err := t.loadFields(e, seriesID, want)
	if err != nil {
		return "", err
	}
	if cur["recurrence"] == "" || cur["recurrenceid"] != "" {
		return "", nil // not a series
	}
	start, err1 := time.Parse(time.RFC3339, cur["scheduledstart"])
	end, err2 := time.Parse(time.RFC3339, cur["scheduledend"])
	f := map[string]string{}
	for k, v := range cur {
		if v != "" && !occurrenceOnly[k] {
			f[k] = v
		}
	}
	f["recurrenceid"] = rid
	f["scheduledstart"] = rid
	delete(f, "scheduledend")
	if err1 == nil && err2 == nil && !end.Before(start) {
		f["scheduledend"] = ridT.Add(end.Sub(start)).UTC().Format(time.RFC3339)
	}
	ps, err := t.loadParties(`SELECT role, address, name, status, COALESCE(contact_id, '') FROM activityparty WHERE activity_id = ? ORDER BY ord`, seriesID)
	if err != nil {
		return "", err
	}
	occ := &crm.Incoming{Record: crm.Record{Entity: e, Fields: f, Parties: ps}, Keys: in.Keys, Source: in.Source,
		Origin: in.Origin, ModifiedAt: in.ModifiedAt}
	res, err := t.apply(occ, policy, provID, "")
	if err != nil {
		return "", fmt.Errorf("hold occurrence %s apart: %w", rid, err)
	}
	// The occurrence is at the series' version: an answer to an older one
	// does not apply to it either.
	if _, err := t.exec(`INSERT OR IGNORE INTO schedule (record_id, sequence, stamp) SELECT ?, sequence, stamp FROM schedule WHERE record_id = ?`,
		res.ID, seriesID); err != nil {
		return "", fmt.Errorf("store schedule: %w", err)
	}
	return res.ID, nil
}

func attendeeList(ps []crm.Party) string {
	var as []string
	for _, p := range ps {
		if p.Role != crm.RoleOrganizer && p.Address != "" {
			as = append(as, p.Address)
		}
	}
	if len(as) == 0 {
		return "an unnamed attendee"
	}
	return strings.Join(as, ", ")
}

// setStatuses sets the PARTSTAT of the record's attendees by lower-case
// address, journals the change of its parties and queues it upstream. It
// returns the addresses that are no attendee of the record.
func (t *Tx) setStatuses(e crm.Entity, id string, statuses map[string]string, origin, at string) (changed bool, missing []string, err error) {
	if len(statuses) == 0 {
		return false, nil, nil
	}
	ps, err := t.loadParties(`SELECT role, address, name, status, COALESCE(contact_id, '') FROM activityparty WHERE activity_id = ? ORDER BY ord`, id)
	if err != nil {
		return false, nil, err
	}
	old := canonParties(ps)
	found := map[string]bool{}
	for i, p := range ps {
		a := strings.ToLower(strings.TrimSpace(p.Address))
		st, ok := statuses[a]
		if !ok || p.Role != crm.RoleRequired && p.Role != crm.RoleOptional {
			continue
		}
		found[a] = true
		if p.Status == st {
			continue
		}
		if _, err := t.exec(`UPDATE activityparty SET status = ? WHERE activity_id = ? AND ord = ?`, st, id, i); err != nil {
			return false, nil, fmt.Errorf("update attendee status: %w", err)
		}
		ps[i].Status, changed = st, true
	}
	for a := range statuses {
		if !found[a] {
			missing = append(missing, a)
		}
	}
	sort.Strings(missing)
	if !changed {
		return false, missing, nil
	}
	if err := t.execRows(`INSERT INTO journal (at, record_id, entity, field, old, new, origin)`, "",
		[][]any{{t.now, id, string(e), fieldParties, nullIfEmpty(digest(old)), nullIfEmpty(digest(canonParties(ps))), origin}}); err != nil {
		return false, nil, fmt.Errorf("journal: %w", err)
	}
	if _, err := t.exec(`INSERT INTO fieldstate (record_id, field, modified_at, modified_by) VALUES (?,?,?,?)
		ON CONFLICT (record_id, field) DO UPDATE SET modified_at = excluded.modified_at, modified_by = excluded.modified_by`,
		id, fieldParties, at, origin); err != nil {
		return false, nil, fmt.Errorf("field state: %w", err)
	}
	return true, missing, t.touch(e, id, "update", []string{fieldParties}, false, true)
}

// resetSchedule sets the version record id holds to the newest one its
// sources gave (provenance), or none: after a source is forgotten or the
// sources of another record are merged into it.
func (t *Tx) resetSchedule(id string) error {
	rows, err := t.query(`SELECT sequence, COALESCE(stamp, '') FROM provenance WHERE record_id = ? AND sequence IS NOT NULL`, id)
	if err != nil {
		return fmt.Errorf("load versions: %w", err)
	}
	var best *crm.Schedule
	for rows.Next() {
		var s crm.Schedule
		var stamp string
		if err := rows.Scan(&s.Sequence, &stamp); err != nil {
			rows.Close()
			return err
		}
		s.Stamp, _ = time.Parse(time.RFC3339Nano, stamp)
		if best == nil || s.Compare(*best) > 0 || s.Sequence == best.Sequence && best.Stamp.IsZero() {
			best = &s
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if best == nil {
		_, err = t.exec(`DELETE FROM schedule WHERE record_id = ?`, id)
	} else {
		_, err = t.exec(`INSERT INTO schedule (record_id, sequence, stamp) VALUES (?,?,?)
			ON CONFLICT (record_id) DO UPDATE SET sequence = excluded.sequence, stamp = excluded.stamp`, id, best.Sequence, fmtTime(best.Stamp))
	}
	if err != nil {
		return fmt.Errorf("store schedule: %w", err)
	}
	return nil
}

// mergeReplies moves the replies record from holds to record into, an
// attendee's later reply winning (applyAnswer's rule).
func (t *Tx) mergeReplies(into, from string) error {
	if _, err := t.exec(`INSERT INTO reply (record_id, address, status, sequence, stamp, origin)
		SELECT ?, address, status, sequence, stamp, origin FROM reply WHERE record_id = ? AND true
		ON CONFLICT (record_id, address) DO UPDATE SET status = excluded.status, sequence = excluded.sequence, stamp = excluded.stamp, origin = excluded.origin
		WHERE excluded.sequence > reply.sequence OR excluded.sequence = reply.sequence AND excluded.stamp > reply.stamp AND reply.stamp != ''`, into, from); err != nil {
		return fmt.Errorf("merge replies: %w", err)
	}
	if _, err := t.exec(`DELETE FROM reply WHERE record_id = ?`, from); err != nil {
		return fmt.Errorf("merge replies: %w", err)
	}
	return nil
}
