package crmstore

import (
	"cmp"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"crmbridge/crm"

	"github.com/google/uuid"
)

// Policy decides a conflict: a field changed both in the store and by the
// source since the source's last version.
type Policy string

// Conflict policies.
const (
	// PolicyNewest takes the change with the newer last-modified time;
	// on a tie, or when the incoming time is unknown, the store keeps its
	// value. It is the default.
	PolicyNewest   Policy = "newest"
	PolicyLocal    Policy = "local"    // the store's value stays
	PolicyIncoming Policy = "incoming" // the source's value wins
	PolicyFail     Policy = "fail"     // neither: the conflict stays open
)

// ParsePolicy checks a policy name.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case PolicyNewest, PolicyLocal, PolicyIncoming, PolicyFail:
		return p, nil
	case "":
		return PolicyNewest, nil
	}
	return "", fmt.Errorf("unknown conflict policy %q (valid: newest, local, incoming, fail)", s)
}

// Outcome says what Apply did to the store.
type Outcome int

// Outcomes of Apply.
const (
	Unchanged Outcome = iota
	Created
	Updated
)

func (o Outcome) String() string {
	return [...]string{"unchanged", "created", "updated"}[o]
}

// Result is what Apply did.
type Result struct {
	ID      string
	Outcome Outcome
	Changed []string // fields changed, sorted
	// Conflicts counts fields changed on both sides; Open counts those
	// left unresolved (PolicyFail).
	Conflicts int
	Open      int
	// Known is true when this source item (same kind and key) was
	// applied before: a later or the same version of it, not a new item.
	Known bool
	// Note says why a version was not applied, or only in part (an older
	// iTIP version, a COUNTER, a REPLY of someone not invited); "" when
	// it was applied as given.
	Note string
}

// ErrConflict is returned (wrapped) by Apply under PolicyFail when a
// conflict was left open; the rest of the record was applied.
var ErrConflict = errors.New("crmstore: conflict left open")

// Pseudo-fields: child collections merged like fields, as canonical JSON.
const (
	fieldParties     = "_parties"
	fieldAttachments = "_attachments"
	fieldMembers     = "_members"
	fieldDeleted     = "_deleted"
	fieldCreated     = "_created" // journal: a record created with the fields listed in new
)

func tableOf(e crm.Entity) string {
	if e.IsActivity() {
		return "activity"
	}
	return string(e)
}

// Apply merges one incoming version of a record into the store, field by
// field (DESIGN.md "Change tracking and merge"): a field the source did not
// change since its last version is left alone; a field changed only by the
// source is taken; a field changed on both sides is a conflict decided by
// policy and recorded. An unchanged version (same source key and version)
// costs one indexed lookup. On error nothing of this record is applied and
// the batch can go on: a change to an existing record runs in a savepoint;
// a new record checks and reads everything before its first write, so that
// only a store failure can stop it after that, and then the batch fails
// (ErrBatchAborted).
func (t *Tx) Apply(in *crm.Incoming, policy Policy) (res Result, err error) {
	if t.broken != nil {
		return res, t.broken
	}
	if !in.Record.Entity.Valid() {
		return res, fmt.Errorf("unknown entity %q", in.Record.Entity)
	}
	if in.Source.Kind == "" || in.Source.Key == "" {
		return res, errors.New("incoming record without source kind and key")
	}
	for name, v := range in.Record.Fields {
		if err := crm.ValidateValue(in.Record.Entity, name, v); err != nil {
			return res, err
		}
	}
	// The party rule (crm.Party): refused before anything is written, so
	// the item is reported and the store stays sound.
	if err := checkParties(in.Record.Parties, true); err != nil {
		return res, err
	}
	if err := checkParties(in.Record.Members, false); err != nil {
		return res, fmt.Errorf("member: %w", err)
	}
	// Fast path: this exact version was applied before.
	var (
		provID         int64
		recID, version string
		recEntity      string
		deleted        bool
		guessed        bool
		given          sql.NullString
	)
	if t.pend.sources[in.Source.Kind+"\x00"+in.Source.Key] {
		if err := t.settle(); err != nil {
			return res, err
		}
	}
	err = t.peekSource(`SELECT p.id, p.record_id, p.version, r.entity, r.deleted, p.version_guessed,
		(SELECT b.value FROM base b WHERE b.provenance_id = p.id AND b.field = ?)
		FROM provenance p JOIN record r ON r.id = p.record_id WHERE`, []any{fieldGiven}, in.Source.Kind, in.Source.Key,
		&provID, &recID, &version, &recEntity, &deleted, &guessed, &given)
	switch {
	case err == sql.ErrNoRows:
		provID, recID = 0, ""
	case err != nil:
		return res, fmt.Errorf("look up provenance: %w", err)
	case version == in.Source.Version:
		if guessed && scheduled(in) && in.Schedule.Changes() {
			// The same version read again (import --force): the iTIP
			// version migration 15 guessed for this source is now known.
			if _, err := t.exec(`UPDATE provenance SET sequence = ?, stamp = ?, version_guessed = 0 WHERE id = ?`,
				in.Schedule.Sequence, fmtTime(in.Schedule.Stamp), provID); err != nil {
				return res, fmt.Errorf("record version: %w", err)
			}
		}
		if given.String == "*" && in.Record.Extras != nil {
			// Likewise the extra values it gives (migration 16 took it
			// to give every value of the record): what it gives now is
			// known; nothing is withdrawn.
			c := claims{at: in.ModifiedAt, hs: map[string]bool{}}
			for _, x := range in.Record.Extras {
				c.hs[valueHash(x)] = true
			}
			if _, err := t.exec(`UPDATE base SET value = ? WHERE provenance_id = ? AND field = ?`, c.String(), provID, fieldGiven); err != nil {
				return res, fmt.Errorf("record sources of extras: %w", err)
			}
		}
		return Result{ID: recID, Outcome: Unchanged, Known: true}, nil
	case deleted || crm.Entity(recEntity) != in.Record.Entity:
		// Deleted in the CRM, or the item changed its type at the
		// source: start a new record rather than resurrect or mix.
		recID = ""
	}
	if in.Record.Entity == crm.Appointment {
		t.series = true
	}
	err = t.runItem(func() error {
		var err error
		if scheduled(in) && !in.Schedule.Changes() {
			if err := t.protect(true); err != nil {
				return err
			}
			res, err = t.applyAnswer(in, policy, provID, recID)
		} else {
			res, err = t.apply(in, policy, provID, recID)
		}
		return err
	})
	if err == nil && res.Open > 0 {
		err = fmt.Errorf("%s %s: %d field(s): %w", in.Record.Entity, res.ID, res.Open, ErrConflict)
	}
	return res, err
}

func (t *Tx) apply(in *crm.Incoming, policy Policy, provID int64, recID string) (Result, error) {
	rec := &in.Record
	e := rec.Entity
	origin := in.Origin
	if origin == "" {
		origin = in.Source.Kind
	}
	idTaken := false // the suggested id rec.ID names a record, deleted or not
	// The item's own id (rec.ID, else the id it names, in.MatchID) is
	// the record that holds it, of the same entity and not deleted.
	if named := cmp.Or(rec.ID, in.MatchID); recID == "" && named != "" {
		if t.pend.ids[named] {
			if err := t.settle(); err != nil {
				return Result{}, err
			}
		}
		var ent string
		var deleted bool
		err := t.peek(`SELECT entity, deleted FROM record WHERE id = ?`, named).Scan(&ent, &deleted)
		switch {
		case err == nil:
			idTaken = true
			if !deleted && crm.Entity(ent) == e {
				recID = named
			}
		case err != sql.ErrNoRows:
			return Result{}, fmt.Errorf("look up record %s: %w", named, err)
		}
	}
	var dups []duplicate
	if recID == "" {
		held, err := t.lookupKeys(string(e), in.Keys)
		if err != nil {
			return Result{}, err
		}
		for _, k := range in.Keys {
			id := held[k]
			if id == "" {
				continue
			}
			// DESIGN.md "Identity": a person matched by e-mail address is
			// the same person only when the names agree; otherwise a
			// second contact, and a possible duplicate for review.
			if agree, err := t.namesAgree(e, id, rec.Fields, k); err != nil {
				return Result{}, err
			} else if !agree {
				dups = append(dups, duplicate{other: id, reason: "same " + k + ", different names"})
				continue
			}
			recID = id
			break
		}
		if recID != "" {
			dups = nil
		}
	}
	if recID != "" {
		// A change to a record: merge decisions may write (conflicts)
		// before a check refuses the version (checkSpan).
		if err := t.protect(true); err != nil {
			return Result{}, err
		}
	}
	schedNewer, succeeds := false, false
	if recID != "" && scheduled(in) {
		// iTIP (schedule.go): an older version changes nothing; a CANCEL
		// changes only the state.
		note, newer, held, err := t.compareVersion(in, recID)
		schedNewer, succeeds = newer, newer && held
		if err != nil {
			return Result{}, err
		}
		if note != "" {
			if _, err := t.saveProvenance(provID, recID, in, origin); err != nil {
				return Result{}, err
			}
			return Result{ID: recID, Outcome: Unchanged, Known: provID != 0, Note: note}, nil
		}
		if in.Schedule.Method == crm.MethodCancel {
			cancelOnly(rec)
		}
	}
	created := recID == ""
	if created {
		recID = rec.ID
		if idTaken {
			// A suggested id already taken (a deleted record, another
			// entity) is not reused.
			recID = ""
		}
		if recID == "" {
			recID = newID()
		}
	}

	theirs := make(map[string]string, len(rec.Fields)+3)
	for k, v := range rec.Fields {
		theirs[k] = v
	}
	if hasNameParts(e, theirs) {
		delete(theirs, "fullname") // derived from the parts (deriveFullName)
	}
	var blobs map[string]*content
	if rec.Parties != nil {
		theirs[fieldParties] = canonParties(rec.Parties)
	}
	if rec.Members != nil {
		theirs[fieldMembers] = canonParties(rec.Members)
	}
	if rec.Attachments != nil {
		var err error
		blobs, err = readAttachments(rec.Attachments)
		if err != nil {
			return Result{}, err
		}
		if err := t.checkBlobs(rec.Attachments, blobs); err != nil {
			return Result{}, err
		}
		theirs[fieldAttachments] = canonAttachments(rec.Attachments)
	}
	if rec.Extras != nil {
		theirs[fieldExtras] = ""
	}

	if succeeds && in.Schedule.Replaces() {
		// Only a version that succeeds one the record holds replaces
		// it: a record from a source without versions (a plain
		// appointment, an edit) is merged.
		if err := t.dropOrganizerFields(e, recID, theirs); err != nil {
			return Result{}, err
		}
	}
	ours := map[string]string{}
	if !created {
		var err error
		if ours, err = t.loadFields(e, recID, theirs); err != nil {
			return Result{}, err
		}
	}
	base := map[string]string{}
	if provID != 0 {
		var err error
		if base, err = t.loadBase(provID); err != nil {
			return Result{}, err
		}
	}
	var given *extrasMerge // the version's effect on extras, when it gives them
	if rec.Extras != nil {
		// Extras merge by the sources that give them (mergeExtras):
		// union, a newer version withdraws what its source no longer
		// gives. The iTIP versions of one event, whatever file each
		// came from, are one source here, as for its fields.
		ownID := recID
		if created {
			ownID = ""
		}
		m, err := t.mergeExtras(ownID, provID, parseExtras(ours[fieldExtras]), in, base[fieldGiven], schedNewer && in.Schedule.Replaces())
		if err != nil {
			return Result{}, err
		}
		given = &m
		rec.Extras = m.extras
		theirs[fieldExtras] = canonExtras(rec.Extras)
	}

	res := Result{ID: recID, Outcome: Unchanged, Known: provID != 0}
	changes := make(map[string]string, len(theirs))
	names := make([]string, 0, len(theirs))
	for k := range theirs {
		names = append(names, k)
	}
	sort.Strings(names)
	inAt := in.ModifiedAt.UTC()
	// The versions of each field, in a buffer the transaction keeps (a
	// contact has some 20 fields; nothing keeps them after apply), taken
	// while in use: an apply inside this one makes its own.
	buf := t.fields
	t.fields = nil
	if cap(buf) < len(names) {
		buf = make([]FieldVersions, len(names))
	}
	defer func() { t.fields = buf }()
	fields := buf[:len(names)]
	clear(fields)
	needState := false
	for i, name := range names {
		b, hasBase := base[name]
		if !hasBase && provID != 0 {
			// The source gave this record before and said nothing of the
			// field: its base is empty, so a value it gives now is its
			// change (a conflict when the CRM changed it too), not a
			// first meeting decided without one.
			b, hasBase = digest(""), true
		}
		fields[i] = FieldVersions{Base: b, HasBase: hasBase, Ours: ours[name], Theirs: theirs[name]}
		needState = needState || !created && (needsLocalTime(fields[i]) || schedNewer && fields[i].Theirs != fields[i].Ours)
	}
	needState = needState || !created && groupsNeedLocalTime(names, fields)
	if needState {
		states, err := t.loadFieldStates(recID)
		if err != nil {
			return Result{}, err
		}
		for i, name := range names {
			st, ok := states[name]
			if !ok {
				st = states["*"]
			}
			fields[i].LocalAt, fields[i].LocalBy = st.at, st.by
		}
	}
	group, groupBy := decideGroups(names, fields, policy, in.ModifiedAt)
	for i, name := range names {
		v := fields[i]
		d := DecideField(v, policy, in.ModifiedAt)
		by := v.LocalBy
		if gd, ok := group[name]; ok {
			d, by = gd, groupBy[name]
		}
		if schedNewer && v.Theirs != v.Ours && fromScheduler(by) {
			// Among scheduled versions of one event the iTIP order
			// decides, not their clocks (schedule.go).
			d = Decision{Action: MergeTake}
		}
		if name == fieldExtras && v.Theirs != v.Ours {
			// theirs is the union of ours and the source's extras
			// (unionExtras): taking it loses nothing, whoever is newer.
			d = Decision{Action: MergeTake}
		}
		if d.Writes() {
			changes[name] = v.Theirs
		}
		if d.Action != MergeConflict {
			continue
		}
		res.Conflicts++
		resolved := t.now
		if d.Winner == WinnerNone {
			resolved = ""
			res.Open++
		}
		if _, err := t.exec(`INSERT INTO conflict (record_id, field, local_value, local_at, local_by, incoming_value, incoming_at, incoming_by, policy, winner, at, resolved_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
			recID, name, v.Ours, fmtTime(v.LocalAt), v.LocalBy, v.Theirs, fmtTime(inAt), origin, string(policy), d.Winner, t.now, resolved); err != nil {
			return Result{}, fmt.Errorf("record conflict: %w", err)
		}
	}

	if err := t.checkSpan(e, recID, created, changes); err != nil {
		return Result{}, err
	}
	changedAt := t.now
	if !in.ModifiedAt.IsZero() {
		changedAt = fmtTime(inAt)
	}
	if err := t.deriveFullName(e, recID, created, ours, changes); err != nil {
		return Result{}, err
	}
	if created {
		// The first write of a new record: everything above only read
		// and checked (a new record has no conflicts), and what follows
		// fails only when the store does.
		if err := t.protect(false); err != nil {
			return Result{}, err
		}
		if err := t.laterRecord(recID); err != nil {
			return Result{}, err
		}
		if err := t.later(`INSERT INTO record (id, entity, created_at, modified_at)`, "", recID, string(e), t.now, t.now); err != nil {
			return Result{}, fmt.Errorf("insert record: %w", err)
		}
		if t.buffering() {
			t.pend.ids[recID] = true
		}
		if err := t.insertRow(e, recID, changes); err != nil {
			return Result{}, err
		}
	}
	if err := t.writeChanges(e, recID, ours, changes, rec, blobs, origin, changedAt, !created); err != nil {
		return Result{}, err
	}
	res.Changed = make([]string, 0, len(changes))
	for name := range changes {
		res.Changed = append(res.Changed, name)
	}
	sort.Strings(res.Changed)

	for _, d := range dups {
		if err := t.addDuplicate(recID, d.other, d.reason); err != nil {
			return Result{}, err
		}
	}

	// Provenance, merge base and identity keys. A source's first version
	// is one base row (baseAll); a later one writes the fields it changed.
	newProv := provID == 0
	provID, err := t.saveProvenance(provID, recID, in, origin)
	if err != nil {
		return Result{}, err
	}
	var baseRows [][]any
	if newProv && len(names) > 0 {
		vals := make([]string, len(names))
		for i, name := range names {
			vals[i] = digest(theirs[name])
		}
		baseRows = append(baseRows, []any{provID, baseAll, encodeBaseSorted(names, vals)})
	} else {
		for _, name := range names {
			d := digest(theirs[name])
			if b, ok := base[name]; ok && b == d {
				continue
			}
			baseRows = append(baseRows, []any{provID, name, d})
		}
	}
	if given != nil {
		// Not a field: written whole, never digested (mergeExtras reads
		// it). Superseded iTIP versions no longer give what this one
		// withdrew.
		if given.own != base[fieldGiven] {
			baseRows = append(baseRows, []any{provID, fieldGiven, given.own})
		}
		for p, row := range given.superseded {
			baseRows = append(baseRows, []any{p, fieldGiven, row})
		}
	}
	if err := t.laterRows(`INSERT INTO base (provenance_id, field, value)`, `ON CONFLICT (provenance_id, field) DO UPDATE SET value = excluded.value`, baseRows); err != nil {
		return Result{}, fmt.Errorf("store merge base: %w", err)
	}
	if created && len(changes) > 0 {
		if err := t.journalCreated(e, recID, changes, origin, newProv, provID); err != nil {
			return Result{}, err
		}
	}
	for _, k := range in.Keys {
		if err := t.addKey(string(e), k, recID); err != nil {
			return Result{}, err
		}
	}
	if scheduled(in) {
		replied, err := t.saveSchedule(in, recID, origin, changedAt)
		if err != nil {
			return Result{}, err
		}
		if replied && !created {
			changes[fieldParties] = ""
			res.Changed = sortedKeys(changes)
		}
		if in.Schedule.Method == crm.MethodCancel {
			if err := t.cancelOccurrences(e, recID, origin); err != nil {
				return Result{}, err
			}
		}
	}
	switch {
	case created:
		res.Outcome = Created
	case len(changes) > 0:
		res.Outcome = Updated
	}
	if len(changes) > 0 || created {
		op := "update"
		if created {
			op = "create"
		}
		changed := res.Changed
		if created {
			changed = []string{outboxAll}
		}
		if err := t.touch(e, recID, op, changed, in.Source.Kind == "upstream", !created); err != nil {
			return Result{}, err
		}
	}
	return res, nil
}

// saveProvenance records that the source item in (kind, key) gave its
// version to record recID; provID is its row, 0 when new.
func (t *Tx) saveProvenance(provID int64, recID string, in *crm.Incoming, origin string) (int64, error) {
	// The iTIP version of an event's version (schedule.go resetSchedule).
	var seq, stamp any
	if scheduled(in) && in.Schedule.Changes() {
		seq, stamp = in.Schedule.Sequence, fmtTime(in.Schedule.Stamp)
	}
	if provID == 0 && t.buffering() {
		// Its id is known before the insert (pending.go). The caller
		// found no row with its key (Tx.Apply, after the pending rows
		// that held it were inserted); the NOT EXISTS below refuses one
		// anyway, and a pending row it refused would fail its base rows
		// (their provenance_id), and so the batch: two sources are never
		// mixed. While provenance_kh is deferred (a bulk run) that check
		// would read the whole table: the caller's lookup is the check.
		if err := t.pendingIDs(); err != nil {
			return 0, err
		}
		provID = t.pend.nextProv
		t.pend.nextProv++
		h := keyHash(in.Source.Kind, in.Source.Key)
		bk := t.s.provKeys.Load()
		head, tail := `INSERT INTO provenance (id, record_id, kind, key, kh, version, origin, seen_at, sequence, stamp) SELECT * FROM (`,
			`) AS v WHERE NOT EXISTS (SELECT 1 FROM provenance p WHERE p.kh = v.column5 AND p.kind = v.column3 AND p.key = v.column4)`
		if bk != nil {
			head, tail = `INSERT INTO provenance (id, record_id, kind, key, kh, version, origin, seen_at, sequence, stamp)`, ``
		}
		err := t.later(head, tail, provID, recID, in.Source.Kind, in.Source.Key, h, in.Source.Version, origin, t.now, seq, stamp)
		if err != nil {
			return 0, fmt.Errorf("insert provenance: %w", err)
		}
		t.pend.sources[in.Source.Kind+"\x00"+in.Source.Key] = true
		if bk != nil {
			bk.add(h, provID)
		}
		return provID, nil
	}
	if provID == 0 {
		// The key may have found its row since the caller looked
		// (holdOccurrenceApart applies the occurrence under it first):
		// that row takes the version, as ON CONFLICT DO UPDATE did
		// before migration 24.
		var err error
		if provID, err = t.sourceID(in.Source.Kind, in.Source.Key); err != nil {
			return 0, err
		}
		if provID == 0 {
			return t.insertSource(recID, in.Source.Kind, in.Source.Key, in.Source.Version, origin, seq, stamp)
		}
	}
	if _, err := t.exec(`UPDATE provenance SET record_id = ?, version = ?, origin = ?, seen_at = ?, sequence = ?, stamp = ?, version_guessed = 0 WHERE id = ?`,
		recID, in.Source.Version, origin, t.now, seq, stamp, provID); err != nil {
		return 0, fmt.Errorf("update provenance: %w", err)
	}
	return provID, nil
}

// touch bumps the record's modified time and queues the change upstream
// unless it came from there.
func (t *Tx) touch(e crm.Entity, id, op string, changed []string, fromUpstream, stamp bool) error {
	if stamp { // a new record was inserted with the time already
		if _, err := t.exec(`UPDATE record SET modified_at = ? WHERE id = ?`, t.now, id); err != nil {
			return fmt.Errorf("touch record: %w", err)
		}
	}
	if fromUpstream {
		return nil
	}
	names, _ := json.Marshal(changed)
	if changed == nil {
		names = []byte("[]")
	}
	if t.buffering() {
		// journal_seq as below: the last journal entry's, pending ones
		// included.
		if err := t.pendingIDs(); err != nil {
			return err
		}
		if err := t.later(`INSERT INTO outbox (record_id, entity, op, fields, journal_seq, created_at)`, "",
			id, string(e), op, string(names), t.pend.lastSeq, t.now); err != nil {
			return fmt.Errorf("queue change: %w", err)
		}
		return nil
	}
	_, err := t.exec(`INSERT INTO outbox (record_id, entity, op, fields, journal_seq, created_at)
		VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) FROM journal), ?)`, id, string(e), op, string(names), t.now)
	if err != nil {
		return fmt.Errorf("queue change: %w", err)
	}
	return nil
}

// ErrEndsBeforeStart refuses a version of an appointment that would end
// before it starts once merged; the store keeps the previous version.
var ErrEndsBeforeStart = crm.ErrEndsBeforeStart

// spanFields are the fields crm.CheckSpan checks.
var spanFields = []string{"isalldayevent", "scheduledend", "scheduledstart"}

// checkSpan refuses a change that leaves an appointment's times breaking
// crm.CheckSpan (DESIGN.md "Identity": a version that would end before it
// starts is refused and reported, the previous version kept; all-day and
// timed are never mixed), whichever versions or edits the values come
// from.
func (t *Tx) checkSpan(e crm.Entity, id string, created bool, changes map[string]string) error {
	if e != crm.Appointment {
		return nil
	}
	touched := false
	for _, k := range spanFields {
		_, ok := changes[k]
		touched = touched || ok
	}
	if !touched {
		return nil
	}
	final := map[string]string{}
	if !created {
		want := map[string]string{}
		for _, k := range spanFields {
			want[k] = ""
		}
		cur, err := t.loadFields(e, id, want)
		if err != nil {
			return err
		}
		final = cur
	}
	for _, k := range spanFields {
		if v, ok := changes[k]; ok {
			final[k] = v
		}
	}
	if err := crm.CheckSpan(final); err != nil {
		return fmt.Errorf("appointment %s refused: %w; the previous version is kept", id, err)
	}
	return nil
}

type fieldState struct {
	at time.Time
	by string
}

// loadFieldStates reads when and by whom each field of a record last
// changed, in one query; "*" holds the record's creation.
func (t *Tx) loadFieldStates(id string) (map[string]fieldState, error) {
	rows, err := t.query(`SELECT field, modified_at, modified_by FROM fieldstate WHERE record_id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("load field states: %w", err)
	}
	defer rows.Close()
	out := map[string]fieldState{}
	for rows.Next() {
		var f, at, by string
		if err := rows.Scan(&f, &at, &by); err != nil {
			return nil, fmt.Errorf("load field states: %w", err)
		}
		st := fieldState{by: by}
		st.at, _ = time.Parse(time.RFC3339Nano, at)
		out[f] = st
	}
	return out, rows.Err()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// loadFields reads the store's current values of the fields in want.
func (t *Tx) loadFields(e crm.Entity, id string, want map[string]string) (map[string]string, error) {
	var cols []string
	for name := range want {
		if !strings.HasPrefix(name, "_") {
			cols = append(cols, name)
		}
	}
	sort.Strings(cols)
	out := map[string]string{}
	if len(cols) > 0 {
		q := `SELECT "` + strings.Join(cols, `", "`) + `" FROM "` + tableOf(e) + `" WHERE id = ?`
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := t.queryRow(q, id).Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("load %s %s: %w", e, id, err)
		}
		for i, c := range cols {
			out[c] = vals[i].String
		}
	}
	if _, ok := want[fieldParties]; ok {
		ps, err := t.loadParties(`SELECT role, address, name, status, COALESCE(contact_id, '') FROM activityparty WHERE activity_id = ? ORDER BY ord`, id)
		if err != nil {
			return nil, err
		}
		out[fieldParties] = canonParties(ps)
	}
	if _, ok := want[fieldMembers]; ok {
		ps, err := t.loadParties(`SELECT 0, address, name, '', COALESCE(contact_id, '') FROM listmember WHERE list_id = ? ORDER BY ord`, id)
		if err != nil {
			return nil, err
		}
		out[fieldMembers] = canonParties(ps)
	}
	if _, ok := want[fieldAttachments]; ok {
		as, err := t.loadAttachments(id)
		if err != nil {
			return nil, err
		}
		out[fieldAttachments] = canonAttachments(as)
	}
	if _, ok := want[fieldExtras]; ok {
		xs, err := t.loadExtras(id)
		if err != nil {
			return nil, err
		}
		out[fieldExtras] = canonExtras(xs)
	}
	return out, nil
}

// insertRow inserts a new record's row in its entity table with the
// column values among changes. The statement names every column of the
// entity, so one prepared statement serves every record of that entity.
func (t *Tx) insertRow(e crm.Entity, id string, changes map[string]string) error {
	fields := crm.Fields(e)
	args := make([]any, 0, len(fields)+2)
	args = append(args, id)
	if e.IsActivity() {
		args = append(args, string(e))
	}
	for _, f := range fields {
		v := changes[f.Name]
		args = append(args, nullIfEmpty(v))
		if e == crm.Contact && strings.HasPrefix(f.Name, "emailaddress") {
			t.touchAddr(v)
		}
	}
	head, ok := t.heads[e]
	if !ok {
		cols := make([]string, 0, len(fields)+2)
		cols = append(cols, "id")
		if e.IsActivity() {
			cols = append(cols, "activitytypecode")
		}
		for _, f := range fields {
			cols = append(cols, f.Name)
		}
		head = `INSERT INTO "` + tableOf(e) + `" ("` + strings.Join(cols, `", "`) + `")`
		if t.heads == nil {
			t.heads = map[crm.Entity]string{}
		}
		t.heads[e] = head
	}
	if err := t.later(head, "", args...); err != nil {
		return fmt.Errorf("insert %s: %w", e, err)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// writeChanges stores the chosen changes: columns (when updateRow; a new
// record's row was inserted with them), child rows, journal and field
// state.
func (t *Tx) writeChanges(e crm.Entity, id string, old, changes map[string]string, rec *crm.Record, blobs map[string]*content, origin, changedAt string, updateRow bool) error {
	if len(changes) == 0 {
		return nil
	}
	var cols []string
	for name := range changes {
		if !strings.HasPrefix(name, "_") {
			cols = append(cols, name)
		}
	}
	sort.Strings(cols)
	if len(cols) > 0 && updateRow {
		sets := make([]string, len(cols))
		args := make([]any, 0, len(cols)+1)
		for i, c := range cols {
			sets[i] = `"` + c + `" = ?`
			args = append(args, nullIfEmpty(changes[c]))
			if strings.HasPrefix(c, "emailaddress") && e == crm.Contact {
				t.touchAddr(old[c])
				t.touchAddr(changes[c])
			}
		}
		args = append(args, id)
		if _, err := t.exec(`UPDATE "`+tableOf(e)+`" SET `+strings.Join(sets, ", ")+` WHERE id = ?`, args...); err != nil {
			return fmt.Errorf("update %s: %w", e, err)
		}
	}
	if _, ok := changes[fieldParties]; ok {
		if err := t.writeParties(`activityparty`, `activity_id`, id, rec.Parties, true, updateRow); err != nil {
			return err
		}
	}
	if _, ok := changes[fieldMembers]; ok {
		if err := t.writeParties(`listmember`, `list_id`, id, rec.Members, false, updateRow); err != nil {
			return err
		}
	}
	if _, ok := changes[fieldAttachments]; ok {
		if err := t.writeAttachments(id, rec.Attachments, blobs, updateRow); err != nil {
			return err
		}
	}
	if _, ok := changes[fieldExtras]; ok {
		if err := t.writeExtras(id, rec.Extras, updateRow); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(changes))
	for n := range changes {
		names = append(names, n)
	}
	sort.Strings(names)
	var journal, state [][]any
	if !updateRow {
		// A new record: one field state "*" for all its fields; apply
		// writes its one journal entry (journalCreated) once its
		// provenance is known.
		state = [][]any{{id, "*", changedAt, origin}}
	} else {
		for _, name := range names {
			journal = append(journal, []any{t.now, id, string(e), name, nullIfEmpty(digest(old[name])), nullIfEmpty(digest(changes[name])), origin})
			state = append(state, []any{id, name, changedAt, origin})
		}
	}
	if err := t.execRows(`INSERT INTO journal (at, record_id, entity, field, old, new, origin)`, "", journal); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := t.laterRows(`INSERT INTO fieldstate (record_id, field, modified_at, modified_by)`,
		`ON CONFLICT (record_id, field) DO UPDATE SET modified_at = excluded.modified_at, modified_by = excluded.modified_by`, state); err != nil {
		return fmt.Errorf("field state: %w", err)
	}
	return nil
}

// createdBase is the prefix of a '_created' journal entry's new value
// that names the provenance whose merge base row (baseAll) lists the
// fields the record was created with: "base:<provenance id>".
const createdBase = "base:"

// journalCreated writes the one journal entry of a new record (field
// '_created'): which fields it was created with. When its source was new
// (newProv), the source's merge base is one row holding exactly those
// fields with their values (every field it gave; the non-empty ones were
// written), and the entry names that row (createdBase) rather than
// repeating every field name; else it lists them as a JSON array.
// createdFields reads either form.
func (t *Tx) journalCreated(e crm.Entity, id string, changes map[string]string, origin string, newProv bool, provID int64) error {
	var created string
	if newProv {
		created = createdBase + strconv.FormatInt(provID, 10)
	} else {
		js, _ := json.Marshal(sortedKeys(changes))
		created = string(js)
	}
	if t.buffering() {
		// Its seq is known before the insert (pending.go), for the
		// outbox entry (touch).
		if err := t.pendingIDs(); err != nil {
			return err
		}
		seq := t.pend.nextSeq
		t.pend.nextSeq++
		t.pend.lastSeq = seq
		if err := t.later(`INSERT INTO journal (seq, at, record_id, entity, field, old, new, origin)`, "",
			seq, t.now, id, string(e), fieldCreated, nil, created, origin); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		return nil
	}
	if _, err := t.exec(`INSERT INTO journal (at, record_id, entity, field, old, new, origin) VALUES (?,?,?,?,?,?,?)`,
		t.now, id, string(e), fieldCreated, nil, created, origin); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// createdFields returns the fields a record was created with, from the new
// value of its '_created' journal entry (see journalCreated).
func (t *Tx) createdFields(created string) ([]string, error) {
	if created == "" {
		return nil, nil
	}
	if n, ok := strings.CutPrefix(created, createdBase); ok {
		provID, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("journal %s %q: %w", fieldCreated, created, err)
		}
		var all string
		err = t.queryRow(`SELECT value FROM base WHERE provenance_id = ? AND field = ?`, provID, baseAll).Scan(&all)
		if err == sql.ErrNoRows {
			return nil, nil // its source is forgotten
		}
		if err != nil {
			return nil, fmt.Errorf("journal %s: %w", fieldCreated, err)
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(all), &m); err != nil {
			return nil, fmt.Errorf("journal %s: base of provenance %d: %w", fieldCreated, provID, err)
		}
		var fields []string
		for f, v := range m {
			if v != "" {
				fields = append(fields, f)
			}
		}
		sort.Strings(fields)
		return fields, nil
	}
	var fields []string
	if err := json.Unmarshal([]byte(created), &fields); err != nil {
		return nil, fmt.Errorf("journal %s: %w", fieldCreated, err)
	}
	return fields, nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func hasNameParts(e crm.Entity, f map[string]string) bool {
	if e != crm.Contact && e != crm.Lead {
		return false
	}
	return f["firstname"] != "" || f["middlename"] != "" || f["lastname"] != ""
}

// deriveFullName keeps a contact's or lead's fullname in step with its
// name parts, as Dataverse computes it: when a part changes, fullname
// becomes "first middle last" of the merged values. ours gains the old
// fullname for the journal.
func (t *Tx) deriveFullName(e crm.Entity, id string, created bool, ours, changes map[string]string) error {
	if e != crm.Contact && e != crm.Lead {
		return nil
	}
	parts := []string{"firstname", "middlename", "lastname"}
	touched := false
	for _, p := range parts {
		_, ok := changes[p]
		touched = touched || ok
	}
	if !touched {
		return nil
	}
	cur := map[string]string{}
	if !created {
		want := map[string]string{"fullname": ""}
		for _, p := range parts {
			want[p] = ""
		}
		var err error
		if cur, err = t.loadFields(e, id, want); err != nil {
			return err
		}
		ours["fullname"] = cur["fullname"]
	}
	var names []string
	for _, p := range parts {
		v, ok := changes[p]
		if !ok {
			v = cur[p]
		}
		if v = strings.TrimSpace(v); v != "" {
			names = append(names, v)
		}
	}
	full := strings.Join(names, " ")
	if full == "" {
		return nil // keep a fullname given without parts
	}
	if full != cur["fullname"] {
		changes["fullname"] = full
	} else {
		delete(changes, "fullname")
	}
	return nil
}

// digestLimit is the longest value kept as is in the merge base and the
// journal; longer ones (bodies, headers, HTML) are kept as a digest. The
// merge only asks whether a value equals its base, and the journal says
// what changed; the value itself lives in the record once.
const digestLimit = 256

// digest returns v, or for a long v "sha256:<hex>:<length>".
func digest(v string) string {
	if len(v) <= digestLimit {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return fmt.Sprintf("sha256:%x:%d", sum[:16], len(v))
}

// newID returns a new record id: a version 7 UUID, whose time-ordered
// prefix makes new rows land at the end of every index keyed by record id
// instead of on a random page (a random UUID v4 there costs a page write
// per index per record in a large store). Dataverse takes any GUID.
func newID() string {
	if u, err := uuid.NewV7(); err == nil {
		return u.String()
	}
	return uuid.NewString()
}
