package crmstore

import "fmt"

// linkSeries links appointment exceptions (with a recurrenceid) to their
// series master, found by the master's UID. Derived work, run once per
// batch at Commit: the master may come after its exceptions in a file.
func (t *Tx) linkSeries() error {
	_, err := t.exec(`UPDATE activity SET seriesid = (
		SELECT k.record_id FROM recordkey k WHERE k.h = ` + keyHashFunc + `('appointment', 'uid:' || activity.uid) AND k.entity = 'appointment' AND k.key = 'uid:' || activity.uid)
		WHERE activitytypecode = 'appointment' AND recurrenceid IS NOT NULL AND uid IS NOT NULL AND seriesid IS NULL`)
	if err != nil {
		return fmt.Errorf("link series: %w", err)
	}
	return nil
}
