package crmstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"crmbridge/crm"
)

// ErrUnknownSource is returned by Forget for a path the store holds
// nothing from.
var ErrUnknownSource = errors.New("crmstore: nothing was imported from this source")

// ForgetReport says what Forget did (or, rolled back, would do).
type ForgetReport struct {
	Source string `json:"source"` // the path, as imported
	Origin string `json:"origin"` // "vcf:/abs/path": the journal origin of its items
	// Items counts the source's items (provenance rows) forgotten.
	Items int `json:"items"`
	// Deleted are the records only this source had brought, deleted
	// (queued upstream as deletes).
	Deleted []ForgetRecord `json:"deleted"`
	// Reverted are records other sources or edits also touched: they keep
	// their record and lose this source's values (Fields, each set back
	// to what the others gave, or emptied).
	Reverted []ForgetRecord `json:"reverted"`
	// Kept counts values of reverted records left as they are because no
	// earlier value can be restored: a value too long for the journal to
	// hold (over 256 bytes), parties, members, attachments. (Extra values
	// go by the sources that give them: forgetExtras.)
	Kept int `json:"kept"`
	// Accounts counts accounts made for contacts' companies that went
	// with the last contact naming them (also listed in Deleted).
	Accounts int `json:"accounts_deleted"`
	// Conflicts counts conflict records this source's versions raised.
	Conflicts int `json:"conflicts_removed"`
	// Problems counts the remembered problems of the file, forgotten too.
	Problems int `json:"problems_removed"`
	// Warnings name the reverted records whose iTIP version or replies
	// forget could not set back exactly (unrecordedVersions).
	Warnings []string `json:"warnings"`
}

// ForgetRecord is one record Forget deleted or changed.
type ForgetRecord struct {
	ID     string     `json:"id"`
	Entity crm.Entity `json:"entity"`
	Fields []string   `json:"fields"` // reverted fields, sorted ([] for a deleted record)
}

// digestRe matches the digest that stands for a value over digestLimit
// bytes in the journal and the merge base (see digest).
var digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{32}:[0-9]+$`)

// Forget removes what the file at path (an absolute path, as imported)
// contributed to the store, in this transaction (README "Forgetting a
// source"):
//
//   - A record only this file brought (every provenance of it is this
//     file's and every change in its journal came from this file: no other
//     source, CRM edit or pull touched it) is deleted like `delete` does:
//     marked deleted, journaled, queued upstream as a delete; its identity
//     keys are dropped so that a later import makes a new record.
//   - An account crmbridge made for a contact's company goes with the last
//     contact naming it, when nothing else changed or refers to it.
//   - A record only this file brought but changed since by a CRM edit or a
//     pull keeps its values and loses only this file's provenance.
//   - A record other sources also brought loses this file's provenance, and
//     each field whose current value this file wrote (it made the field's
//     last change, or set it at creation and nobody changed it since) goes
//     back to the last value another origin wrote in the journal, else to
//     the value another source of the record gave last (its merge base),
//     else to empty. Values that cannot be restored (see ForgetReport.Kept)
//     stay. An extra value this file gave goes when no other source of
//     the record gives it (forgetExtras). The changes are journaled with origin "forget:" + the file's
//     origin and queued upstream as updates.
//   - An event keeps the newest iTIP version its other sources gave (none
//     when they gave none) and loses the replies this file gave.
//   - The file's fingerprint, remembered problems and the conflicts its
//     versions raised are removed.
func (t *Tx) Forget(path string) (*ForgetReport, error) {
	origin, err := t.sourceOrigin(path)
	if err != nil {
		return nil, err
	}
	rep := &ForgetReport{Source: path, Origin: origin, Deleted: []ForgetRecord{}, Reverted: []ForgetRecord{}, Warnings: []string{}}
	by := "forget:" + origin

	// The file's items, per record.
	rows, err := t.query(`SELECT p.record_id, r.entity, COUNT(*) FROM provenance p JOIN record r ON r.id = p.record_id
		WHERE p.origin = ? GROUP BY p.record_id ORDER BY p.record_id`, origin)
	if err != nil {
		return nil, fmt.Errorf("forget %s: %w", path, err)
	}
	type rec struct {
		id string
		e  crm.Entity
	}
	var recs []rec
	for rows.Next() {
		var r rec
		var n int
		if err := rows.Scan(&r.id, &r.e, &n); err != nil {
			rows.Close()
			return nil, err
		}
		rep.Items += n
		recs = append(recs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	n, err := t.deleteConflicts(`incoming_by = ?`, origin)
	if err != nil {
		return nil, err
	}
	rep.Conflicts += n
	accounts := map[string]bool{}
	for _, r := range recs {
		only, err := t.onlyFrom(r.id, origin)
		if err != nil {
			return nil, err
		}
		if only {
			if r.e == crm.Contact {
				var acc sql.NullString
				if err := t.queryRow(`SELECT parentcustomerid FROM contact WHERE id = ?`, r.id).Scan(&acc); err != nil {
					return nil, fmt.Errorf("forget: %s: %w", r.id, err)
				}
				if acc.String != "" {
					accounts[acc.String] = true
				}
			}
			if err := t.forgetRecord(r.id, by); err != nil {
				return nil, err
			}
			if n, err = t.deleteConflicts(`record_id = ?`, r.id); err != nil {
				return nil, err
			}
			rep.Conflicts += n
			rep.Deleted = append(rep.Deleted, ForgetRecord{ID: r.id, Entity: r.e, Fields: []string{}})
			continue
		}
		fields, kept, err := t.revertFields(r.id, r.e, origin, by)
		if err != nil {
			return nil, err
		}
		rep.Kept += kept
		if w, err := t.unrecordedVersions(r.id, origin); err != nil {
			return nil, err
		} else if w != "" {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s %s: %s", r.e, ShortID(r.id), w))
		}
		if _, err := t.exec(`DELETE FROM provenance WHERE record_id = ? AND origin = ?`, r.id, origin); err != nil {
			return nil, fmt.Errorf("forget: %s: %w", r.id, err)
		}
		// iTIP: the version the other sources gave, their replies.
		if _, err := t.exec(`DELETE FROM reply WHERE record_id = ? AND origin = ?`, r.id, origin); err != nil {
			return nil, fmt.Errorf("forget: %s: %w", r.id, err)
		}
		if err := t.resetSchedule(r.id); err != nil {
			return nil, fmt.Errorf("forget: %s: %w", r.id, err)
		}
		rep.Reverted = append(rep.Reverted, ForgetRecord{ID: r.id, Entity: r.e, Fields: fields})
	}

	ids := make([]string, 0, len(accounts))
	for id := range accounts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		gone, err := t.orphanCompany(id)
		if err != nil {
			return nil, err
		}
		if !gone {
			continue
		}
		if err := t.forgetRecord(id, by); err != nil {
			return nil, err
		}
		rep.Accounts++
		rep.Deleted = append(rep.Deleted, ForgetRecord{ID: id, Entity: crm.Account, Fields: []string{}})
	}

	if n, err = t.forgetProblems(path); err != nil {
		return nil, err
	}
	rep.Problems = n
	if _, err := t.exec(`DELETE FROM sourcefile WHERE path = ?`, path); err != nil {
		return nil, fmt.Errorf("forget %s: %w", path, err)
	}
	return rep, nil
}

// sourceOrigin returns the journal origin ("kind:path") of the items
// imported from path.
func (t *Tx) sourceOrigin(path string) (string, error) {
	var kind string
	err := t.queryRow(`SELECT kind FROM sourcefile WHERE path = ?`, path).Scan(&kind)
	if err == nil {
		return kind + ":" + path, nil
	}
	if err != sql.ErrNoRows {
		return "", fmt.Errorf("forget %s: %w", path, err)
	}
	// An import killed before the file was finished leaves items without
	// the file's fingerprint: the items' origin names the file.
	var origin string
	err = t.queryRow(`SELECT origin FROM provenance WHERE substr(origin, instr(origin, ':') + 1) = ? LIMIT 1`, path).Scan(&origin)
	if err == sql.ErrNoRows {
		return "", fmt.Errorf("%s: %w", path, ErrUnknownSource)
	}
	if err != nil {
		return "", fmt.Errorf("forget %s: %w", path, err)
	}
	return origin, nil
}

// unrecordedVersions says, for record id losing the sources of origin,
// what forget cannot set back because a store from before schema 15 did
// not record it (migration 15): the iTIP version each other source gave
// (provenance.version_guessed: the record's version was taken for each),
// so the record keeps a version that origin may have given; and whose
// replies the record's older replies are (reply.origin ”), so they stay.
// "" when forget is exact.
func (t *Tx) unrecordedVersions(id, origin string) (string, error) {
	var guessed, replies int
	var seq sql.NullInt64
	err := t.queryRow(`SELECT (SELECT COUNT(*) FROM provenance WHERE record_id = ?1 AND origin <> ?2 AND version_guessed = 1 AND sequence IS NOT NULL),
		(SELECT COUNT(*) FROM reply WHERE record_id = ?1 AND origin = ''),
		(SELECT sequence FROM schedule WHERE record_id = ?1)`, id, origin).Scan(&guessed, &replies, &seq)
	if err != nil {
		return "", fmt.Errorf("forget: %s: %w", id, err)
	}
	var says []string
	if guessed > 0 && seq.Valid {
		says = append(says, fmt.Sprintf("keeps iTIP SEQUENCE %d, which this file may have given: the version each of its %d other source(s) gave was not recorded (imported before crmbridge kept it; import them again with --force to record it)", seq.Int64, guessed))
	}
	if replies > 0 {
		says = append(says, fmt.Sprintf("keeps %d attendee repl(ies) whose source was not recorded (imported before crmbridge kept it), some perhaps from this file", replies))
	}
	return strings.Join(says, "; "), nil
}

// onlyFrom reports whether origin is the only thing that ever touched
// record id: every provenance and every journal entry of it.
func (t *Tx) onlyFrom(id, origin string) (bool, error) {
	var other int
	err := t.queryRow(`SELECT EXISTS (SELECT 1 FROM provenance WHERE record_id = ?1 AND origin <> ?2)
		OR EXISTS (SELECT 1 FROM journal WHERE record_id = ?1 AND origin <> ?2)`, id, origin).Scan(&other)
	if err != nil {
		return false, fmt.Errorf("forget: %s: %w", id, err)
	}
	return other == 0, nil
}

// forgetRecord deletes record id (journaled and queued as a delete) and
// drops its provenance and identity keys.
func (t *Tx) forgetRecord(id, by string) error {
	if err := t.Delete(id, by); err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	for _, q := range []string{
		`DELETE FROM provenance WHERE record_id = ?`,
		`DELETE FROM recordkey WHERE record_id = ?`,
		`DELETE FROM duplicate WHERE (a = ?1 OR b = ?1) AND settled = ''`,
		`DELETE FROM schedule WHERE record_id = ?`,
		`DELETE FROM reply WHERE record_id = ?`,
	} {
		if _, err := t.exec(q, id); err != nil {
			return fmt.Errorf("forget: %s: %w", id, err)
		}
	}
	return nil
}

// orphanCompany reports whether account id was made for a company name
// only (its provenance and journal say "company") and no live contact or
// activity refers to it any more.
func (t *Tx) orphanCompany(id string) (bool, error) {
	var keep int
	err := t.queryRow(`SELECT EXISTS (SELECT 1 FROM provenance WHERE record_id = ?1 AND kind <> 'company')
		OR NOT EXISTS (SELECT 1 FROM provenance WHERE record_id = ?1)
		OR EXISTS (SELECT 1 FROM journal WHERE record_id = ?1 AND origin <> 'company')
		OR EXISTS (SELECT 1 FROM contact c JOIN record r ON r.id = c.id AND r.deleted = 0 WHERE c.parentcustomerid = ?1)
		OR EXISTS (SELECT 1 FROM activity a JOIN record r ON r.id = a.id AND r.deleted = 0 WHERE a.regardingobjectid = ?1)
		OR EXISTS (SELECT 1 FROM record WHERE id = ?1 AND deleted = 1)`, id).Scan(&keep)
	if err != nil {
		return false, fmt.Errorf("forget: account %s: %w", id, err)
	}
	return keep == 0, nil
}

// revertFields sets back every field of record id whose last change came
// from origin (see Forget) and returns the fields changed and the count of
// values kept because they cannot be restored.
func (t *Tx) revertFields(id string, e crm.Entity, origin, by string) (changed []string, kept int, err error) {
	var deleted bool
	if err := t.queryRow(`SELECT deleted FROM record WHERE id = ?`, id).Scan(&deleted); err != nil {
		return nil, 0, fmt.Errorf("forget: %s: %w", id, err)
	}
	var others int
	if err := t.queryRow(`SELECT EXISTS (SELECT 1 FROM provenance WHERE record_id = ? AND origin <> ?)`, id, origin).Scan(&others); err != nil {
		return nil, 0, fmt.Errorf("forget: %s: %w", id, err)
	}
	if deleted || others == 0 {
		// Deleted by someone else, or brought by this file alone and
		// changed since by an edit or a pull: the record is the CRM's own
		// now and keeps its values.
		return []string{}, 0, nil
	}
	rows, err := t.query(`SELECT field FROM fieldstate WHERE record_id = ? AND modified_by = ? AND field <> '*' ORDER BY field`, id, origin)
	if err != nil {
		return nil, 0, fmt.Errorf("forget: %s: %w", id, err)
	}
	var names []string
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			rows.Close()
			return nil, 0, err
		}
		names = append(names, f)
	}
	rows.Close()
	// A record created by this file and merged by another: the fields it
	// set at creation carry the creation's state ("*").
	var created int
	if err := t.queryRow(`SELECT EXISTS (SELECT 1 FROM fieldstate WHERE record_id = ? AND field = '*' AND modified_by = ?)`, id, origin).Scan(&created); err != nil {
		return nil, 0, fmt.Errorf("forget: %s: %w", id, err)
	}
	if created == 1 {
		var list sql.NullString
		err := t.queryRow(`SELECT new FROM journal WHERE record_id = ? AND field = ? ORDER BY seq LIMIT 1`, id, fieldCreated).Scan(&list)
		if err != nil && err != sql.ErrNoRows {
			return nil, 0, fmt.Errorf("forget: %s: %w", id, err)
		}
		fields, err := t.createdFields(list.String)
		if err != nil {
			return nil, 0, fmt.Errorf("forget: %s: %w", id, err)
		}
		for _, f := range fields {
			var changedSince int
			if err := t.queryRow(`SELECT EXISTS (SELECT 1 FROM fieldstate WHERE record_id = ? AND field = ?)`, id, f).Scan(&changedSince); err != nil {
				return nil, 0, err
			}
			if changedSince == 0 {
				names = append(names, f)
			}
		}
	}
	extrasGone, err := t.forgetExtras(id, e, origin, by)
	if err != nil {
		return nil, 0, fmt.Errorf("forget: %s: %w", id, err)
	}
	defer func() {
		if extrasGone && err == nil {
			changed = append(changed, fieldExtras)
			sort.Strings(changed)
		}
	}()
	want := map[string]string{}
	for _, f := range names {
		switch {
		case f == fieldExtras:
			// forgetExtras: by the sources that give each value
		case strings.HasPrefix(f, "_"):
			kept++ // parties, members, attachments: kept
		case f == "fullname" && (e == crm.Contact || e == crm.Lead):
			// derived from the name parts when they change
		default:
			want[f] = ""
		}
	}
	if len(want) == 0 {
		return []string{}, kept, nil
	}
	cur, err := t.loadFields(e, id, want)
	if err != nil {
		return nil, 0, err
	}
	set := map[string]string{}
	states := map[string]*restoredState{}
	for f := range want {
		v, ok, st, err := t.valueWithout(id, f, origin)
		if err != nil {
			return nil, 0, err
		}
		switch {
		case !ok:
			kept++
		case v != cur[f]:
			set[f] = v
			states[f] = st
		}
	}
	if len(set) > 0 {
		if changed, err = t.Set(id, set, by); err != nil {
			return nil, 0, fmt.Errorf("forget: %s: %w", id, err)
		}
	}
	if changed == nil {
		changed = []string{}
	}
	// A set-back value carries the time and origin of the change that
	// made it, not of the forget: a later version from a source is merged
	// as if this file had never been imported (the newer change wins).
	if _, err := t.exec(`UPDATE fieldstate SET (modified_at, modified_by) = (SELECT p.seen_at, p.origin FROM provenance p
		WHERE p.record_id = ?1 AND p.origin <> ?2 ORDER BY p.seen_at, p.id LIMIT 1)
		WHERE record_id = ?1 AND field = '*' AND modified_by = ?2`, id, origin); err != nil {
		return nil, 0, fmt.Errorf("forget: %s: %w", id, err)
	}
	for _, f := range changed {
		st := states[f]
		var err error
		if st == nil {
			_, err = t.exec(`DELETE FROM fieldstate WHERE record_id = ? AND field = ?`, id, f)
		} else {
			_, err = t.exec(`UPDATE fieldstate SET modified_at = ?, modified_by = ? WHERE record_id = ? AND field = ?`, st.at, st.by, id, f)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("forget: %s: %w", id, err)
		}
	}
	return changed, kept, nil
}

// restoredState is the field state (time, origin) a set-back value gets.
type restoredState struct{ at, by string }

// valueWithout returns the value field f of record id would have without
// origin, and the field state (time and origin of the change) to record
// with it, nil for the record's creation state:
//   - the last value another origin wrote in the journal (its time and
//     origin);
//   - else the value another source of the record gave last, from its
//     merge base (the creation state when that source created the record,
//     else when it was last seen);
//   - else "" (nobody else gave one).
//
// ok is false when the value is known only by its digest.
func (t *Tx) valueWithout(id, f, origin string) (v string, ok bool, st *restoredState, err error) {
	var nv sql.NullString
	var at, by string
	err = t.queryRow(`SELECT new, at, origin FROM journal WHERE record_id = ? AND field = ? AND origin <> ? ORDER BY seq DESC LIMIT 1`, id, f, origin).Scan(&nv, &at, &by)
	if err == nil {
		st = &restoredState{at: at, by: by}
	}
	if err == sql.ErrNoRows {
		var found bool
		if nv.String, found, st, err = t.lastBase(id, f, origin); err == nil && !found {
			err = sql.ErrNoRows
		}
	}
	if err == sql.ErrNoRows {
		return "", true, nil, nil
	}
	if err != nil {
		return "", false, nil, fmt.Errorf("forget: %s %s: %w", id, f, err)
	}
	if digestRe.MatchString(nv.String) {
		return "", false, nil, nil
	}
	return nv.String, true, st, nil
}

// lastBase returns the merge base of field f from the source of record id
// seen last, among those whose origin is not origin; st is nil when that
// source created the record (its base is the creation state).
func (t *Tx) lastBase(id, f, origin string) (v string, found bool, st *restoredState, err error) {
	type prov struct {
		id        int64
		at, by    string
		isCreator bool
	}
	rows, err := t.query(`SELECT p.id, p.seen_at, p.origin,
		EXISTS (SELECT 1 FROM fieldstate s WHERE s.record_id = p.record_id AND s.field = '*' AND s.modified_by = p.origin)
		FROM provenance p WHERE p.record_id = ? AND p.origin <> ? ORDER BY p.seen_at DESC, p.id DESC`, id, origin)
	if err != nil {
		return "", false, nil, err
	}
	var provs []prov
	for rows.Next() {
		var p prov
		if err := rows.Scan(&p.id, &p.at, &p.by, &p.isCreator); err != nil {
			rows.Close()
			return "", false, nil, err
		}
		provs = append(provs, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", false, nil, err
	}
	for _, p := range provs {
		v, ok, err := t.baseValue(p.id, f)
		if err != nil {
			return "", false, nil, err
		}
		if !ok {
			continue
		}
		if !p.isCreator {
			st = &restoredState{at: p.at, by: p.by}
		}
		return v, true, st, nil
	}
	return "", false, nil, nil
}

// deleteConflicts removes the conflict records matching where.
func (t *Tx) deleteConflicts(where string, arg any) (int, error) {
	res, err := t.exec(`DELETE FROM conflict WHERE `+where, arg)
	if err != nil {
		return 0, fmt.Errorf("forget: conflicts: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// forgetProblems removes the remembered problems of the file at path.
func (t *Tx) forgetProblems(path string) (int, error) {
	res, err := t.exec(`DELETE FROM sourceproblem WHERE path = ?`, path)
	if err != nil {
		return 0, fmt.Errorf("forget %s: %w", path, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// errDryRun rolls back a dry run's transaction.
var errDryRun = errors.New("dry run")

// Forget removes what the file at path (absolute, as imported) brought, in
// one transaction (see Tx.Forget). With dryRun the transaction is rolled
// back: the report says what would change, and nothing does.
func (s *Store) Forget(ctx context.Context, path string, dryRun bool) (*ForgetReport, error) {
	var rep *ForgetReport
	err := s.Update(ctx, func(tx *Tx) error {
		var err error
		if rep, err = tx.Forget(path); err != nil {
			return err
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	return rep, err
}
