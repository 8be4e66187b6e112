package crmstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"crmbridge/crm"
)

func (t *Tx) loadParties(q, id string) ([]crm.Party, error) {
	rows, err := t.query(q, id)
	if err != nil {
		return nil, fmt.Errorf("load parties: %w", err)
	}
	defer rows.Close()
	var ps []crm.Party
	for rows.Next() {
		var p crm.Party
		if err := rows.Scan(&p.Role, &p.Address, &p.Name, &p.Status, &p.ContactID); err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

func (t *Tx) writeParties(table, idcol, id string, ps []crm.Party, withRole, existing bool) error {
	if existing {
		if _, err := t.exec(`DELETE FROM `+table+` WHERE `+idcol+` = ?`, id); err != nil {
			return fmt.Errorf("clear %s: %w", table, err)
		}
	}
	if len(ps) == 0 {
		return nil
	}
	// The one place parties are written: none that breaks the party rule
	// (check reports one as damage).
	if err := checkParties(ps, withRole); err != nil {
		return fmt.Errorf("%s of %s: %w", table, id, err)
	}
	rows := make([][]any, len(ps))
	for i, p := range ps {
		addr := strings.TrimSpace(p.Address)
		if withRole {
			t.touchAddr(addr)
			rows[i] = []any{id, i, p.Role, addr, p.Name, p.Status}
			continue
		}
		// A member known by its contact (pulled from upstream) stays
		// bound to it; others resolve by address (resolveParties).
		if p.ContactID == "" {
			t.touchAddr(addr)
		}
		rows[i] = []any{id, i, addr, p.Name, nullIfEmpty(p.ContactID)}
	}
	head := `INSERT INTO listmember (list_id, ord, address, name, contact_id)`
	if withRole {
		head = `INSERT INTO activityparty (activity_id, ord, role, address, name, status)`
	}
	if err := t.laterRows(head, "", rows); err != nil {
		return fmt.Errorf("insert %s: %w", table, err)
	}
	return nil
}

// checkParties returns the first error of crm.Party.Check among ps,
// naming the party by its position. An activity party (withRole) needs
// its address: the store binds it to a contact by that address, and
// table activityparty keeps no contact given with it; a list member may
// be known by its contact alone (pulled from upstream).
func checkParties(ps []crm.Party, withRole bool) error {
	for i, p := range ps {
		if withRole {
			p.ContactID = ""
		}
		if err := p.Check(); err != nil {
			return fmt.Errorf("party %d: %w", i, err)
		}
	}
	return nil
}

func canonParties(ps []crm.Party) string {
	type cp struct {
		R int    `json:"r"`
		A string `json:"a"`
		N string `json:"n"`
		S string `json:"s,omitempty"`
	}
	out := make([]cp, len(ps))
	for i, p := range ps {
		out[i] = cp{p.Role, strings.ToLower(strings.TrimSpace(p.Address)), p.Name, p.Status}
	}
	if len(out) == 0 {
		return ""
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func (t *Tx) touchAddr(a string) {
	if a = strings.ToLower(strings.TrimSpace(a)); a != "" {
		t.addrs[a] = true
	}
}

// resolveParties points every activity party and list member whose
// address was touched in this batch (new parties, or a contact's e-mail
// address added or changed) at the contact with that address: by primary
// address first, then the second and third. One indexed lookup and update
// per distinct address. While a bulk import holds the contact e-mail
// indexes deferred (bulk.go), the addresses are only recorded, in table
// pendingaddr, and resolved once the indexes are built again: the final
// contacts decide either way.
func (t *Tx) resolveParties() error {
	used, err := t.usedAddrs(sortedSet(t.addrs))
	if err != nil {
		return err
	}
	if t.s.partiesDeferred.Load() {
		rows := make([][]any, len(used))
		for i, a := range used {
			rows[i] = []any{a}
		}
		if err := t.execRows(`INSERT INTO pendingaddr (addr)`, `ON CONFLICT DO NOTHING`, rows); err != nil {
			return fmt.Errorf("resolve parties: %w", err)
		}
	} else if err := t.resolveAddrs(used); err != nil {
		return err
	}
	t.addrs = map[string]bool{}
	return nil
}

// resolveAddrs points the parties and members of each address (lower
// case) at the contact that has it (see resolveParties).
func (t *Tx) resolveAddrs(used []string) error {
	for _, addr := range used {
		var id string
		err := t.queryRow(`SELECT id FROM (
			SELECT c.id, 1 AS pref FROM contact c JOIN record r ON r.id = c.id AND r.deleted = 0 WHERE lower(c.emailaddress1) = ?1
			UNION ALL SELECT c.id, 2 FROM contact c JOIN record r ON r.id = c.id AND r.deleted = 0 WHERE lower(c.emailaddress2) = ?1
			UNION ALL SELECT c.id, 3 FROM contact c JOIN record r ON r.id = c.id AND r.deleted = 0 WHERE lower(c.emailaddress3) = ?1)
			ORDER BY pref, id LIMIT 1`, addr).Scan(&id)
		if err != nil && err != sql.ErrNoRows {
			return fmt.Errorf("resolve %s: %w", addr, err)
		}
		// Only rows that point elsewhere are read and written (index
		// activityparty_address holds contact_id): a frequent address (a
		// mailbox's owner) has parties in most messages, and rewriting
		// them all in every batch read and wrote pages all over the
		// table, more with every batch.
		if _, err := t.exec(`UPDATE activityparty SET contact_id = ?1 WHERE lower(address) = ?2 AND contact_id IS NOT ?1`, nullIfEmpty(id), addr); err != nil {
			return fmt.Errorf("resolve parties: %w", err)
		}
		if _, err := t.exec(`UPDATE listmember SET contact_id = ?1 WHERE lower(address) = ?2 AND contact_id IS NOT ?1`, nullIfEmpty(id), addr); err != nil {
			return fmt.Errorf("resolve members: %w", err)
		}
	}
	return nil
}

// usedChunk is how many addresses usedAddrs asks about in one statement;
// a shorter last chunk is padded with NULL (equal to nothing), so that one
// prepared statement serves every chunk.
const usedChunk = 200

// usedAddrs returns those of addrs (lower case) that some activity party
// or list member has. A bulk import of contacts touches every address it
// stores and usually none is a party's: one statement per chunk instead of
// one per address.
func (t *Tx) usedAddrs(addrs []string) ([]string, error) {
	marks := "?" + strings.Repeat(",?", usedChunk-1)
	q := `SELECT lower(address) FROM activityparty WHERE lower(address) IN (` + marks + `)
		UNION SELECT lower(address) FROM listmember WHERE lower(address) IN (` + marks + `)`
	var used []string
	args := make([]any, 2*usedChunk)
	for len(addrs) > 0 {
		n := min(len(addrs), usedChunk)
		for i := range usedChunk {
			var a any // NULL
			if i < n {
				a = addrs[i]
			}
			args[i], args[usedChunk+i] = a, a
		}
		rows, err := t.query(q, args...)
		if err != nil {
			return nil, fmt.Errorf("resolve parties: %w", err)
		}
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				rows.Close()
				return nil, fmt.Errorf("resolve parties: %w", err)
			}
			used = append(used, a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("resolve parties: %w", err)
		}
		addrs = addrs[n:]
	}
	return used, nil
}
