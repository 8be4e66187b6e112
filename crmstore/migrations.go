package crmstore

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the store's schema, one forward-only step per entry.
// Step i brings a store from PRAGMA user_version i to i+1; each runs in its
// own transaction. Never edit a step that has shipped: add a new one.
var migrations = []string{
	// 1: records, typed entity tables, parties, attachments, provenance,
	// identity keys, field state and merge bases, journal, outbox, runs.
	`
CREATE TABLE record (
	id TEXT PRIMARY KEY,          -- GUID, also the upstream id
	entity TEXT NOT NULL,
	created_at TEXT NOT NULL,
	modified_at TEXT NOT NULL,
	deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX record_entity ON record(entity, deleted);

CREATE TABLE contact (
	id TEXT PRIMARY KEY REFERENCES record(id) ON DELETE CASCADE,
	salutation TEXT,
	firstname TEXT,
	middlename TEXT,
	lastname TEXT,
	suffix TEXT,
	fullname TEXT,
	nickname TEXT,
	emailaddress1 TEXT,
	emailaddress2 TEXT,
	emailaddress3 TEXT,
	telephone1 TEXT,
	telephone2 TEXT,
	telephone3 TEXT,
	mobilephone TEXT,
	fax TEXT,
	pager TEXT,
	jobtitle TEXT,
	department TEXT,
	company TEXT,
	parentcustomerid TEXT,
	birthdate TEXT,
	anniversary TEXT,
	spousesname TEXT,
	websiteurl TEXT,
	description TEXT,
	categories TEXT,
	folder TEXT,
	address1_name TEXT,
	address1_line1 TEXT,
	address1_line2 TEXT,
	address1_line3 TEXT,
	address1_city TEXT,
	address1_stateorprovince TEXT,
	address1_postalcode TEXT,
	address1_country TEXT,
	address1_postofficebox TEXT,
	address2_name TEXT,
	address2_line1 TEXT,
	address2_line2 TEXT,
	address2_line3 TEXT,
	address2_city TEXT,
	address2_stateorprovince TEXT,
	address2_postalcode TEXT,
	address2_country TEXT,
	address2_postofficebox TEXT,
	address3_name TEXT,
	address3_line1 TEXT,
	address3_line2 TEXT,
	address3_line3 TEXT,
	address3_city TEXT,
	address3_stateorprovince TEXT,
	address3_postalcode TEXT,
	address3_country TEXT,
	address3_postofficebox TEXT
);
CREATE TABLE account (
	id TEXT PRIMARY KEY REFERENCES record(id) ON DELETE CASCADE,
	name TEXT,
	telephone1 TEXT,
	fax TEXT,
	emailaddress1 TEXT,
	websiteurl TEXT,
	description TEXT,
	address1_name TEXT,
	address1_line1 TEXT,
	address1_line2 TEXT,
	address1_line3 TEXT,
	address1_city TEXT,
	address1_stateorprovince TEXT,
	address1_postalcode TEXT,
	address1_country TEXT,
	address1_postofficebox TEXT
);
CREATE TABLE lead (
	id TEXT PRIMARY KEY REFERENCES record(id) ON DELETE CASCADE,
	subject TEXT,
	firstname TEXT,
	lastname TEXT,
	fullname TEXT,
	companyname TEXT,
	emailaddress1 TEXT,
	telephone1 TEXT,
	mobilephone TEXT,
	jobtitle TEXT,
	description TEXT,
	statecode INTEGER
);
CREATE TABLE opportunity (
	id TEXT PRIMARY KEY REFERENCES record(id) ON DELETE CASCADE,
	name TEXT,
	description TEXT,
	estimatedvalue INTEGER,
	estimatedclosedate TEXT,
	closeprobability INTEGER,
	parentaccountid TEXT,
	parentcontactid TEXT,
	statecode INTEGER
);
CREATE TABLE list (
	id TEXT PRIMARY KEY REFERENCES record(id) ON DELETE CASCADE,
	listname TEXT,
	description TEXT,
	folder TEXT
);
CREATE TABLE activity (
	id TEXT PRIMARY KEY REFERENCES record(id) ON DELETE CASCADE,
	activitytypecode TEXT NOT NULL,
	subject TEXT,
	description TEXT,
	descriptionhtml TEXT,
	scheduledstart TEXT,
	scheduledend TEXT,
	actualstart TEXT,
	actualend TEXT,
	prioritycode INTEGER,
	statecode INTEGER,
	statuscode INTEGER,
	regardingobjectid TEXT,
	category TEXT,
	categories TEXT,
	reminder TEXT,
	folder TEXT,
	sensitivity INTEGER,
	sender TEXT,
	torecipients TEXT,
	messageid TEXT,
	inreplyto TEXT,
	"references" TEXT,
	conversationindex TEXT,
	directioncode TEXT,
	senton TEXT,
	receivedon TEXT,
	headers TEXT,
	percentcomplete INTEGER,
	uid TEXT,
	location TEXT,
	isalldayevent TEXT,
	globalobjectid TEXT,
	recurrence TEXT,
	recurrenceid TEXT,
	seriesid TEXT,
	timezone TEXT,
	busystatus TEXT,
	ismeeting TEXT,
	phonenumber TEXT,
	faxnumber TEXT,
	numberofpages INTEGER,
	address TEXT
);

CREATE INDEX contact_email1 ON contact(lower(emailaddress1));
CREATE INDEX contact_email2 ON contact(lower(emailaddress2));
CREATE INDEX contact_email3 ON contact(lower(emailaddress3));
CREATE INDEX activity_type ON activity(activitytypecode);

-- MS Dataverse activityparty: one row per participant.
CREATE TABLE activityparty (
	activity_id TEXT NOT NULL REFERENCES record(id) ON DELETE CASCADE,
	ord INTEGER NOT NULL,
	role INTEGER NOT NULL,
	address TEXT NOT NULL,
	name TEXT NOT NULL,
	status TEXT NOT NULL,
	contact_id TEXT,
	PRIMARY KEY (activity_id, ord)
);
CREATE INDEX activityparty_address ON activityparty(lower(address));
CREATE INDEX activityparty_contact ON activityparty(contact_id);

-- Members of a marketing list (an Outlook distribution list).
CREATE TABLE listmember (
	list_id TEXT NOT NULL REFERENCES record(id) ON DELETE CASCADE,
	ord INTEGER NOT NULL,
	address TEXT NOT NULL,
	name TEXT NOT NULL,
	contact_id TEXT,
	PRIMARY KEY (list_id, ord)
);
CREATE INDEX listmember_address ON listmember(lower(address));

-- Attachment content, stored once per SHA-256.
CREATE TABLE blob (
	sha256 TEXT PRIMARY KEY,
	size INTEGER NOT NULL,
	data BLOB NOT NULL
);
CREATE TABLE attachment (
	record_id TEXT NOT NULL REFERENCES record(id) ON DELETE CASCADE,
	ord INTEGER NOT NULL,
	name TEXT NOT NULL,
	mimetype TEXT NOT NULL,
	contentid TEXT NOT NULL,
	inline INTEGER NOT NULL,
	size INTEGER NOT NULL,
	sha256 TEXT NOT NULL REFERENCES blob(sha256),
	PRIMARY KEY (record_id, ord)
);

-- Where each record came from: one row per (source kind, key).
CREATE TABLE provenance (
	id INTEGER PRIMARY KEY,
	record_id TEXT NOT NULL REFERENCES record(id) ON DELETE CASCADE,
	kind TEXT NOT NULL,
	key TEXT NOT NULL,
	version TEXT NOT NULL,
	origin TEXT NOT NULL,
	seen_at TEXT NOT NULL,
	UNIQUE (kind, key)
);
CREATE INDEX provenance_record ON provenance(record_id);

-- The merge base: the value each source last gave for each field (a
-- digest for values over 256 bytes).
CREATE TABLE base (
	provenance_id INTEGER NOT NULL REFERENCES provenance(id) ON DELETE CASCADE,
	field TEXT NOT NULL,
	value TEXT NOT NULL,
	PRIMARY KEY (provenance_id, field)
) WITHOUT ROWID;

-- When and by whom each field last changed; field '*' holds the time
-- and origin of a record's creation for fields not changed since.
CREATE TABLE fieldstate (
	record_id TEXT NOT NULL REFERENCES record(id) ON DELETE CASCADE,
	field TEXT NOT NULL,
	modified_at TEXT NOT NULL,
	modified_by TEXT NOT NULL,
	PRIMARY KEY (record_id, field)
) WITHOUT ROWID;

-- Identity keys shared across sources (e-mail address, Message-ID, UID).
CREATE TABLE recordkey (
	entity TEXT NOT NULL,
	key TEXT NOT NULL,
	record_id TEXT NOT NULL REFERENCES record(id) ON DELETE CASCADE,
	PRIMARY KEY (entity, key)
) WITHOUT ROWID;
CREATE INDEX recordkey_record ON recordkey(record_id);

-- Every applied change, in order (values over 256 bytes as a digest). A
-- record's creation is one entry, field '_created', new = its field names.
CREATE TABLE journal (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	at TEXT NOT NULL,
	record_id TEXT NOT NULL,
	entity TEXT NOT NULL,
	field TEXT NOT NULL,
	old TEXT,
	new TEXT,
	origin TEXT NOT NULL
);
CREATE INDEX journal_record ON journal(record_id, seq);

-- Local changes waiting to go upstream, in journal order.
CREATE TABLE outbox (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	record_id TEXT NOT NULL,
	entity TEXT NOT NULL,
	op TEXT NOT NULL,              -- create | update | delete
	fields TEXT NOT NULL,          -- JSON array of changed field names
	journal_seq INTEGER NOT NULL,
	created_at TEXT NOT NULL,
	state TEXT NOT NULL DEFAULT 'pending', -- pending | inflight | dead
	attempts INTEGER NOT NULL DEFAULT 0,
	not_before TEXT NOT NULL DEFAULT '',
	last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_record ON outbox(record_id, seq);

-- Source files already imported, by fingerprint.
CREATE TABLE sourcefile (
	path TEXT PRIMARY KEY,
	size INTEGER NOT NULL,
	mtime TEXT NOT NULL,
	sha256 TEXT NOT NULL,
	kind TEXT NOT NULL,
	items INTEGER NOT NULL,
	failed INTEGER NOT NULL,
	imported_at TEXT NOT NULL
);

-- Runs of write commands, for status.
CREATE TABLE run (
	id INTEGER PRIMARY KEY,
	command TEXT NOT NULL,
	started_at TEXT NOT NULL,
	finished_at TEXT NOT NULL DEFAULT '',
	exit_code INTEGER,
	summary TEXT NOT NULL DEFAULT ''
);
`,
	// 2: conflicts, export watermarks, upstream ETags and pull state.
	`
CREATE TABLE conflict (
	id INTEGER PRIMARY KEY,
	record_id TEXT NOT NULL REFERENCES record(id) ON DELETE CASCADE,
	field TEXT NOT NULL,
	local_value TEXT NOT NULL,
	local_at TEXT NOT NULL,
	local_by TEXT NOT NULL,
	incoming_value TEXT NOT NULL,
	incoming_at TEXT NOT NULL,
	incoming_by TEXT NOT NULL,
	policy TEXT NOT NULL,
	winner TEXT NOT NULL,          -- local | incoming | none (policy fail)
	at TEXT NOT NULL,
	resolved_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX conflict_open ON conflict(resolved_at);

CREATE TABLE watermark (
	target TEXT PRIMARY KEY,       -- e.g. "vcf:/home/me/out.vcf"
	journal_seq INTEGER NOT NULL,
	at TEXT NOT NULL
);

CREATE TABLE upstream (
	record_id TEXT PRIMARY KEY REFERENCES record(id) ON DELETE CASCADE,
	etag TEXT NOT NULL,
	synced_at TEXT NOT NULL
);

CREATE TABLE pullstate (
	entityset TEXT PRIMARY KEY,
	deltalink TEXT NOT NULL,
	last TEXT NOT NULL
);
`,
	// 3: mark the file as a crmbridge store (PRAGMA application_id "CRMB",
	// applicationID), so that Open can tell it from other SQLite files.
	`PRAGMA application_id = 1129467202;`,
	// 4: what push learned about the upstream server (the calling user,
	// column limits), and, for a pull without change tracking, the rows
	// seen at the newest modifiedon (so that rows changed in that same
	// second are read again, not lost).
	`
CREATE TABLE upstreamcache (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL,
	at TEXT NOT NULL
);
ALTER TABLE pullstate ADD COLUMN seen TEXT NOT NULL DEFAULT '';
`,
	// 5: what each export target wrote (so that it never overwrites or
	// removes a file it did not write), and appointments by UID (a vdir
	// file holds a series master and its exceptions).
	`
CREATE TABLE exportfile (
	path TEXT PRIMARY KEY,         -- absolute path of a file an export wrote
	target TEXT NOT NULL,          -- e.g. "ics:/home/me/calendar"
	item TEXT NOT NULL,            -- what the file holds: a record id, "uid:" + a UID, or "" (the whole target)
	sha256 TEXT NOT NULL,          -- hex digest of the bytes written
	at TEXT NOT NULL
);
CREATE INDEX exportfile_item ON exportfile(target, item);
CREATE INDEX activity_uid ON activity(uid);
`,
	// 6: extra values, the values a source gave that no column holds.
	`
CREATE TABLE extra (
	record_id TEXT NOT NULL REFERENCES record(id) ON DELETE CASCADE,
	ord INTEGER NOT NULL,
	name TEXT NOT NULL,            -- as the source names it: EMAIL, TEL, X-SKYPE
	value TEXT NOT NULL,
	params TEXT NOT NULL DEFAULT '', -- JSON object, e.g. {"TYPE":"home,fax"}
	PRIMARY KEY (record_id, ord)
) WITHOUT ROWID;
`,
	// 7: possible duplicates: two records identity would have merged
	// but did not (same e-mail address, names that disagree), for review.
	`
CREATE TABLE duplicate (
	a TEXT NOT NULL REFERENCES record(id) ON DELETE CASCADE, -- the newer record
	b TEXT NOT NULL REFERENCES record(id) ON DELETE CASCADE,
	reason TEXT NOT NULL,
	at TEXT NOT NULL,
	settled TEXT NOT NULL DEFAULT '',  -- '', 'merged' or 'dismissed'
	settled_at TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (a, b)
) WITHOUT ROWID;
`,
	// 8: short ids (ShortID, the last 12 hex digits) looked up by index.
	`CREATE INDEX record_tail ON record(substr(id, 25));`,
	// 9: the problems of each imported file, remembered while the file is
	// unchanged (an unchanged file with known problems is not read again
	// and does not fail later runs; status lists them).
	`
CREATE TABLE sourceproblem (
	path TEXT NOT NULL,            -- sourcefile.path
	ord INTEGER NOT NULL,
	message TEXT NOT NULL,         -- "contacts.vcf: line 230: ..."
	PRIMARY KEY (path, ord)
) WITHOUT ROWID;
`,
	// 10: an appointment's recurrence as Outlook holds it, kept from a PST
	// so that the series is written back exactly (MS-OXOCAL 2.2.1.44,
	// 2.2.1.41).
	`
ALTER TABLE activity ADD COLUMN recurrenceblob TEXT;
ALTER TABLE activity ADD COLUMN timezoneblob TEXT;
`,
	// 11: iTIP (RFC 5546): the scheduling version (SEQUENCE, DTSTAMP) of
	// the event version each appointment or task holds, so that an older
	// version read later changes nothing; and each attendee's latest REPLY,
	// which outlives a REQUEST of the SEQUENCE it answers read after it.
	`
CREATE TABLE schedule (
	record_id TEXT PRIMARY KEY REFERENCES record(id) ON DELETE CASCADE,
	sequence INTEGER NOT NULL,
	stamp TEXT NOT NULL            -- DTSTAMP, RFC 3339 UTC; '' unknown
) WITHOUT ROWID;
CREATE TABLE reply (
	record_id TEXT NOT NULL REFERENCES record(id) ON DELETE CASCADE,
	address TEXT NOT NULL,         -- the attendee, lower case
	status TEXT NOT NULL,          -- PARTSTAT
	sequence INTEGER NOT NULL,
	stamp TEXT NOT NULL,
	PRIMARY KEY (record_id, address)
) WITHOUT ROWID;
`,
	// 12: a run's outcome as data (the JSON object the command prints
	// with --json), for status --json.
	`ALTER TABLE run ADD COLUMN result TEXT NOT NULL DEFAULT '';`,
	// 13: what status counts, kept by triggers in the transaction of each
	// change (a COUNT(*) reads every row: seconds at 1,000,000 records);
	// the oldest outbox entry per state by index; and an index per entity
	// table in list's order (entity, title, id), so that list --limit
	// reads only the rows it prints. check compares the tally with the
	// rows (invariant "tally").
	`
CREATE TABLE tally (
	name TEXT PRIMARY KEY,  -- record:<entity> (not deleted), source:<kind>, outbox:<state>, attachment, blob_bytes
	n INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO tally SELECT 'record:' || entity, COUNT(*) FROM record WHERE deleted = 0 GROUP BY entity;
INSERT INTO tally SELECT 'source:' || kind, COUNT(*) FROM provenance GROUP BY kind;
INSERT INTO tally SELECT 'outbox:' || state, COUNT(*) FROM outbox GROUP BY state;
INSERT INTO tally SELECT 'attachment', COUNT(*) FROM attachment;
INSERT INTO tally SELECT 'blob_bytes', COALESCE(SUM(size), 0) FROM blob;

CREATE TRIGGER tally_record_insert AFTER INSERT ON record WHEN NEW.deleted = 0 BEGIN
	INSERT INTO tally VALUES ('record:' || NEW.entity, 1) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER tally_record_delete AFTER DELETE ON record WHEN OLD.deleted = 0 BEGIN
	UPDATE tally SET n = n - 1 WHERE name = 'record:' || OLD.entity;
END;
CREATE TRIGGER tally_record_update AFTER UPDATE OF entity, deleted ON record
	WHEN (OLD.deleted = 0) != (NEW.deleted = 0) OR OLD.entity != NEW.entity BEGIN
	UPDATE tally SET n = n - 1 WHERE name = 'record:' || OLD.entity AND OLD.deleted = 0;
	INSERT INTO tally SELECT 'record:' || NEW.entity, 1 WHERE NEW.deleted = 0 ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER tally_provenance_insert AFTER INSERT ON provenance BEGIN
	INSERT INTO tally VALUES ('source:' || NEW.kind, 1) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER tally_provenance_delete AFTER DELETE ON provenance BEGIN
	UPDATE tally SET n = n - 1 WHERE name = 'source:' || OLD.kind;
END;
CREATE TRIGGER tally_provenance_update AFTER UPDATE OF kind ON provenance WHEN OLD.kind != NEW.kind BEGIN
	UPDATE tally SET n = n - 1 WHERE name = 'source:' || OLD.kind;
	INSERT INTO tally VALUES ('source:' || NEW.kind, 1) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER tally_outbox_insert AFTER INSERT ON outbox BEGIN
	INSERT INTO tally VALUES ('outbox:' || NEW.state, 1) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER tally_outbox_delete AFTER DELETE ON outbox BEGIN
	UPDATE tally SET n = n - 1 WHERE name = 'outbox:' || OLD.state;
END;
CREATE TRIGGER tally_outbox_update AFTER UPDATE OF state ON outbox WHEN OLD.state != NEW.state BEGIN
	UPDATE tally SET n = n - 1 WHERE name = 'outbox:' || OLD.state;
	INSERT INTO tally VALUES ('outbox:' || NEW.state, 1) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER tally_attachment_insert AFTER INSERT ON attachment BEGIN
	INSERT INTO tally VALUES ('attachment', 1) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER tally_attachment_delete AFTER DELETE ON attachment BEGIN
	UPDATE tally SET n = n - 1 WHERE name = 'attachment';
END;

CREATE TRIGGER tally_blob_insert AFTER INSERT ON blob BEGIN
	INSERT INTO tally VALUES ('blob_bytes', NEW.size) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER tally_blob_delete AFTER DELETE ON blob BEGIN
	UPDATE tally SET n = n - OLD.size WHERE name = 'blob_bytes';
END;
CREATE TRIGGER tally_blob_update AFTER UPDATE OF size ON blob BEGIN
	UPDATE tally SET n = n - OLD.size + NEW.size WHERE name = 'blob_bytes';
END;

CREATE INDEX outbox_state ON outbox(state, created_at);

CREATE INDEX contact_title ON contact(COALESCE(fullname, trim(COALESCE(firstname, '') || ' ' || COALESCE(lastname, ''))), id);
CREATE INDEX account_title ON account(COALESCE(name, ''), id);
CREATE INDEX lead_title ON lead(COALESCE(fullname, subject, ''), id);
CREATE INDEX opportunity_title ON opportunity(COALESCE(name, ''), id);
CREATE INDEX list_title ON list(COALESCE(listname, ''), id);
CREATE INDEX activity_title ON activity(activitytypecode, COALESCE(subject, ''), id);
`,
	// 14: an e-mail's follow-up flag as Outlook keeps it (MS-OXOFLAG),
	// local fields (crm/schema.go).
	`
ALTER TABLE activity ADD COLUMN flagstatus INTEGER;
ALTER TABLE activity ADD COLUMN flagrequest TEXT;
ALTER TABLE activity ADD COLUMN flagstart TEXT;
ALTER TABLE activity ADD COLUMN flagdue TEXT;
ALTER TABLE activity ADD COLUMN flagcompleted TEXT;
ALTER TABLE activity ADD COLUMN flagicon INTEGER;
`,
	// 15: the iTIP version each source's item gave (provenance) and the
	// source of each reply, so that forgetting a source, or merging two
	// records, leaves the version and replies the other sources gave. A
	// store's existing sources of a record with a version are taken to
	// have given it (the version of each was not kept).
	`
ALTER TABLE provenance ADD COLUMN sequence INTEGER;  -- NULL: no version (or an answer)
ALTER TABLE provenance ADD COLUMN stamp TEXT;
ALTER TABLE reply ADD COLUMN origin TEXT NOT NULL DEFAULT '';
UPDATE provenance SET sequence = (SELECT s.sequence FROM schedule s WHERE s.record_id = provenance.record_id),
	stamp = (SELECT s.stamp FROM schedule s WHERE s.record_id = provenance.record_id)
	WHERE record_id IN (SELECT record_id FROM schedule);
`,
	// 16: which sources give each extra value (a merge-base row
	// "_extras_given" per source, crmstore claims), so that a newer
	// version withdraws what its source no longer gives and forget drops
	// what only the forgotten file gave; and which iTIP versions of
	// sources migration 15 guessed (the record's, not the source's own),
	// so that forget can say it cannot lower them. A store's existing
	// sources that gave extras are taken to give every extra value of
	// their record ("*"), until their next version says which.
	`
INSERT OR IGNORE INTO base (provenance_id, field, value)
	SELECT DISTINCT b.provenance_id, '_extras_given', '*' FROM base b JOIN provenance p ON p.id = b.provenance_id
	WHERE EXISTS (SELECT 1 FROM extra x WHERE x.record_id = p.record_id)
	AND (b.field IN ('_extras', '_extras_once') OR b.field = '*' AND json_type(b.value, '$."_extras"') IS NOT NULL);
DELETE FROM base WHERE field = '_extras_once';
ALTER TABLE provenance ADD COLUMN version_guessed INTEGER NOT NULL DEFAULT 0;
UPDATE provenance SET version_guessed = 1 WHERE sequence IS NOT NULL;
`,
	// 17: identity keys looked up by a 64-bit hash of entity and key
	// (keys.go keyHash, the SQL function crm_keyhash) instead of by the
	// keys themselves: an index of random keys about a fifth the size. A
	// key still names one record (addKey checks before inserting).
	`
CREATE TABLE recordkey_new (
	h INTEGER NOT NULL,            -- crm_keyhash(entity, key)
	entity TEXT NOT NULL,
	key TEXT NOT NULL,
	record_id TEXT NOT NULL REFERENCES record(id) ON DELETE CASCADE
);
INSERT INTO recordkey_new (h, entity, key, record_id)
	SELECT crm_keyhash(entity, key), entity, key, record_id FROM recordkey ORDER BY record_id, key;
DROP TABLE recordkey;
ALTER TABLE recordkey_new RENAME TO recordkey;
CREATE INDEX recordkey_hash ON recordkey(h);
CREATE INDEX recordkey_record ON recordkey(record_id, key);
`,
	// 18: activity parties by address with the contact each points at, so
	// that party resolution (resolveParties) finds the parties of an
	// address that point elsewhere from the index alone: a frequent
	// address has parties in most messages, and reading all of their
	// rows in every batch was most of a large mbox import's reads.
	`
DROP INDEX activityparty_address;
CREATE INDEX activityparty_address ON activityparty(lower(address), contact_id);
`,
	// 19: the indexes a bulk import dropped, to build again at its end
	// (bulk.go): an import killed before that leaves them here, and the
	// next Open for writing builds them.
	`
CREATE TABLE deferredindex (
	name TEXT PRIMARY KEY,         -- sqlite_master.name
	sql TEXT NOT NULL              -- its CREATE INDEX statement
) WITHOUT ROWID;
`,
	// 20: attachment content in chunks of at most 64 KiB (chunkSize),
	// written and read a chunk at a time, so that importing or exporting
	// a large attachment does not hold it whole (three times: the Go
	// bytes, the driver's copy, SQLite's row). Empty content has no
	// chunk. migrationCode[19] moves the content (splitBlobs).
	`
CREATE TABLE blobchunk (
	sha256 TEXT NOT NULL REFERENCES blob(sha256),
	n INTEGER NOT NULL,
	data BLOB NOT NULL,
	PRIMARY KEY (sha256, n)
);
`,
	// 21: the party addresses a bulk import touched while the contact
	// e-mail indexes were deferred, resolved once they are built again
	// (bulk.go).
	`
CREATE TABLE pendingaddr (
	addr TEXT PRIMARY KEY          -- lower case, as resolveParties takes it
) WITHOUT ROWID;
`,
	// 22: the party rule (crm.Party): every activity party and list member
	// has an address or a record. crmbridge before this schema stored an
	// e-mail address that did not parse, a PST recipient or sender
	// without an address, or an iCalendar attendee known by CN only, as a
	// name without an address, which check reports as damage and push
	// cannot send. Each now has its name as its address, as an import
	// gives it now, and that address is resolved to a contact like any
	// other (pendingaddr, at the next write). A party with neither a name
	// nor an address holds no value and goes.
	`
INSERT INTO pendingaddr (addr)
	SELECT lower(trim(name)) FROM activityparty WHERE trim(address) = '' AND trim(name) != '' AND COALESCE(contact_id, '') = ''
	UNION SELECT lower(trim(name)) FROM listmember WHERE trim(address) = '' AND trim(name) != '' AND COALESCE(contact_id, '') = ''
	ON CONFLICT DO NOTHING;
UPDATE activityparty SET address = trim(name) WHERE trim(address) = '' AND trim(name) != '' AND COALESCE(contact_id, '') = '';
UPDATE listmember SET address = trim(name) WHERE trim(address) = '' AND trim(name) != '' AND COALESCE(contact_id, '') = '';
DELETE FROM activityparty WHERE trim(address) = '' AND COALESCE(contact_id, '') = '';
DELETE FROM listmember WHERE trim(address) = '' AND COALESCE(contact_id, '') = '';
`,
	// 23: the identity keys a store held when a bulk import deferred
	// recordkey_hash, by hash, so that the import finds them without it
	// (bulkkeys.go); emptied when the index is built again.
	`
CREATE TABLE bulkkey (
	h INTEGER NOT NULL,            -- recordkey.h
	rid INTEGER NOT NULL,          -- recordkey.rowid
	PRIMARY KEY (h, rid)
) WITHOUT ROWID;
`,
	// 24: provenance keys looked up by a 64-bit hash of kind and key
	// (kh, keyHash as for identity keys, migration 17) through a plain
	// index instead of UNIQUE (kind, key): the writer keeps a key on one
	// row (sources.go), and the index, about a quarter the size, can be
	// deferred in a bulk import (bulkkeys.go; bulkprov holds the store's
	// earlier keys then, as bulkkey does for identity keys). With random
	// UIDs (real address books) the unique index on path#UID took each new
	// item to a random page: 100,000 cards wrote 4 GB instead of 0.6.
	// SQLite's table rebuild (lang_altertable.html, "Making Other Kinds Of
	// Table Schema Changes"): run with foreign keys off (migrationNoFK), or
	// dropping the old table would delete every base row through ON
	// DELETE CASCADE; the triggers and indexes go with the old table and
	// are made again.
	`
CREATE TABLE provenance_new (
	id INTEGER PRIMARY KEY,
	record_id TEXT NOT NULL REFERENCES record(id) ON DELETE CASCADE,
	kind TEXT NOT NULL,
	key TEXT NOT NULL,
	version TEXT NOT NULL,
	origin TEXT NOT NULL,
	seen_at TEXT NOT NULL,
	sequence INTEGER,
	stamp TEXT,
	version_guessed INTEGER NOT NULL DEFAULT 0,
	kh INTEGER NOT NULL            -- crm_keyhash(kind, key)
);
INSERT INTO provenance_new (id, record_id, kind, key, version, origin, seen_at, sequence, stamp, version_guessed, kh)
	SELECT id, record_id, kind, key, version, origin, seen_at, sequence, stamp, version_guessed, crm_keyhash(kind, key)
	FROM provenance ORDER BY id;
DROP TABLE provenance;
ALTER TABLE provenance_new RENAME TO provenance;
CREATE INDEX provenance_record ON provenance(record_id);
CREATE INDEX provenance_kh ON provenance(kh);
CREATE TRIGGER tally_provenance_insert AFTER INSERT ON provenance BEGIN
	INSERT INTO tally VALUES ('source:' || NEW.kind, 1) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER tally_provenance_delete AFTER DELETE ON provenance BEGIN
	UPDATE tally SET n = n - 1 WHERE name = 'source:' || OLD.kind;
END;
CREATE TRIGGER tally_provenance_update AFTER UPDATE OF kind ON provenance WHEN OLD.kind != NEW.kind BEGIN
	UPDATE tally SET n = n - 1 WHERE name = 'source:' || OLD.kind;
	INSERT INTO tally VALUES ('source:' || NEW.kind, 1) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
END;
CREATE TABLE bulkprov (
	h INTEGER NOT NULL,            -- provenance.kh
	rid INTEGER NOT NULL,          -- provenance.id
	PRIMARY KEY (h, rid)
) WITHOUT ROWID;
`,
	// 25: records by entity in the order exports write them (IDs: by
	// creation time, then id), so that Scan reads them in that order with
	// one query instead of sorting their ids and looking each up by id in
	// every table. The old index (entity, deleted) is this one's prefix.
	// A record's created_at never changes and a new one's is (but for a
	// clock set back) the latest: an import adds at the end of its
	// entity's range.
	`
DROP INDEX record_entity;
CREATE INDEX record_entity ON record(entity, deleted, created_at, id);
`,
}

// migrationNoFK are the migrations (by index in migrations) that run with
// foreign keys off, and the tables whose foreign keys they must keep:
// checked before their commit (PRAGMA foreign_key_check), as SQLite's
// table rebuild asks.
var migrationNoFK = map[int][]string{23: {"provenance", "base"}}

// migrationCode holds the steps a migration takes in Go, after its SQL, in
// the same transaction, by index in migrations.
var migrationCode = map[int]func(context.Context, *sql.Tx) error{
	19: splitBlobs,
}

// splitBlobs moves each blob's content into chunks (migration 20), then
// drops blob.data. In SQL (substr per chunk) every chunk read its blob
// whole: three 20 MiB blobs took 29 s, a 100 MB one would take hours. Here
// each blob is read once; the largest is held whole, as reading it was
// before.
func splitBlobs(ctx context.Context, tx *sql.Tx) error {
	var shas []string
	rows, err := tx.QueryContext(ctx, `SELECT sha256 FROM blob WHERE length(CAST(data AS BLOB)) > 0 ORDER BY sha256`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var sha string
		if err := rows.Scan(&sha); err != nil {
			rows.Close()
			return err
		}
		shas = append(shas, sha)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO blobchunk (sha256, n, data) VALUES (?,?,?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for _, sha := range shas {
		var data []byte
		if err := tx.QueryRowContext(ctx, `SELECT CAST(data AS BLOB) FROM blob WHERE sha256 = ?`, sha).Scan(&data); err != nil {
			return fmt.Errorf("attachment content %s: %w", sha, err)
		}
		for n, off := 0, 0; off < len(data); n, off = n+1, off+chunkSize {
			if _, err := ins.ExecContext(ctx, sha, n, data[off:min(off+chunkSize, len(data))]); err != nil {
				return fmt.Errorf("attachment content %s: %w", sha, err)
			}
		}
	}
	_, err = tx.ExecContext(ctx, `ALTER TABLE blob DROP COLUMN data`)
	return err
}
