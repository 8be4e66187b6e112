package crmstore

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"crmbridge/crm"
)

// Summary is one line of a record listing.
type Summary struct {
	ID         string     `json:"id"`
	ShortID    string     `json:"short_id"`
	Entity     crm.Entity `json:"entity"`
	Title      string     `json:"title"`
	Detail     string     `json:"detail"`
	When       string     `json:"when"`
	ModifiedAt time.Time  `json:"modified_at"`
}

// ListFilter selects records for List.
type ListFilter struct {
	Entities []crm.Entity // empty: all
	Limit    int          // 0: no limit
}

// List returns records without deleted ones, ordered by entity, title
// and id; with a limit, the first ones in that order.
func (s *Store) List(ctx context.Context, f ListFilter) ([]Summary, error) {
	var out []Summary
	ents := f.Entities
	if len(ents) == 0 {
		ents = crm.Entities()
	}
	byTable := map[string][]string{}
	for _, e := range ents {
		byTable[tableOf(e)] = append(byTable[tableOf(e)], string(e))
	}
	// Each query walks its table's title index (migration 13) in list
	// order: entity, title, id. CROSS JOIN keeps the entity table as the
	// outer loop, so that with a limit only the rows printed are read.
	type listQuery struct{ sel, order string }
	queries := map[string]listQuery{
		"contact": {`SELECT r.id, r.entity, COALESCE(t.fullname, trim(COALESCE(t.firstname, '') || ' ' || COALESCE(t.lastname, ''))), COALESCE(t.emailaddress1, ''), '', r.modified_at FROM contact t CROSS JOIN record r ON r.id = t.id`,
			`COALESCE(t.fullname, trim(COALESCE(t.firstname, '') || ' ' || COALESCE(t.lastname, ''))), t.id`},
		"account":     {`SELECT r.id, r.entity, COALESCE(t.name, ''), COALESCE(t.websiteurl, ''), '', r.modified_at FROM account t CROSS JOIN record r ON r.id = t.id`, `COALESCE(t.name, ''), t.id`},
		"lead":        {`SELECT r.id, r.entity, COALESCE(t.fullname, t.subject, ''), COALESCE(t.companyname, ''), '', r.modified_at FROM lead t CROSS JOIN record r ON r.id = t.id`, `COALESCE(t.fullname, t.subject, ''), t.id`},
		"opportunity": {`SELECT r.id, r.entity, COALESCE(t.name, ''), '', COALESCE(t.estimatedclosedate, ''), r.modified_at FROM opportunity t CROSS JOIN record r ON r.id = t.id`, `COALESCE(t.name, ''), t.id`},
		"list":        {`SELECT r.id, r.entity, COALESCE(t.listname, ''), '', '', r.modified_at FROM list t CROSS JOIN record r ON r.id = t.id`, `COALESCE(t.listname, ''), t.id`},
		"activity": {`SELECT r.id, r.entity, COALESCE(t.subject, ''), COALESCE(t.sender, t.location, ''), COALESCE(t.senton, t.scheduledstart, t.scheduledend, ''), r.modified_at FROM activity t CROSS JOIN record r ON r.id = t.id`,
			`t.activitytypecode, COALESCE(t.subject, ''), t.id`},
	}
	for table, es := range byTable {
		lq := queries[table]
		col := "r.entity"
		if table == "activity" {
			col = "t.activitytypecode" // the record's entity, and the index's first column
		}
		q := lq.sel + ` WHERE r.deleted = 0 AND ` + col + ` IN (?` + strings.Repeat(",?", len(es)-1) + `) ORDER BY ` + lq.order
		args := make([]any, len(es), len(es)+1)
		for i, e := range es {
			args[i] = e
		}
		if f.Limit > 0 {
			q += ` LIMIT ?`
			args = append(args, f.Limit)
		}
		rows, err := s.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", table, err)
		}
		for rows.Next() {
			var sm Summary
			var ent, mod string
			if err := rows.Scan(&sm.ID, &ent, &sm.Title, &sm.Detail, &sm.When, &mod); err != nil {
				rows.Close()
				return nil, err
			}
			sm.Entity = crm.Entity(ent)
			sm.ShortID = ShortID(sm.ID)
			sm.ModifiedAt, _ = time.Parse(time.RFC3339Nano, mod)
			out = append(out, sm)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", table, err)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Entity != out[j].Entity {
			return out[i].Entity < out[j].Entity
		}
		if out[i].Title != out[j].Title {
			return out[i].Title < out[j].Title
		}
		return out[i].ID < out[j].ID
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}
