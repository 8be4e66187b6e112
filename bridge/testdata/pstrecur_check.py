"""Independent check of crmbridge's PST recurrences (used by
bridge/pstrecur_dst_test.go): reads the PST with pypff (libpff), decodes
PidLidAppointmentRecur (MS-OXOCAL 2.2.1.44) and the recurrence's
TZDEFINITION (2.2.1.41) itself, expands the series in the zone the
TZDEFINITION describes, and compares the UTC instants with what python's
dateutil.rrule gives for the iCalendar rule in the IANA zone (zoneinfo,
the system's tz data).

argv: PST path, JSON list of cases {subject, tzid, start (local,
YYYY-mm-ddTHH:MM), rule (RRULE value), exdates (local YYYY-mm-ddTHH:MM),
overrides: [{orig, start, end, subject}] (local)}.
Prints one line per problem; nothing when every case matches.
"""
import datetime as dt
import json
import struct
import sys
import zoneinfo

import pypff
from dateutil import rrule

EPOCH = dt.datetime(1601, 1, 1)


def minutes(m):
    return EPOCH + dt.timedelta(minutes=m)


def decode_recur(b):
    p = 0

    def u16():
        nonlocal p
        v = struct.unpack_from("<H", b, p)[0]
        p += 2
        return v

    def u32():
        nonlocal p
        v = struct.unpack_from("<I", b, p)[0]
        p += 4
        return v

    r = {}
    u16(); u16()
    r["freq"], r["ptype"], r["cal"] = u16(), u16(), u16()
    r["first"], r["period"], r["sliding"] = u32(), u32(), u32()
    r["spec"] = {0: [], 1: [u32()] if r["ptype"] == 1 else [], 2: [], 3: []}.get(r["ptype"], [])
    if r["ptype"] == 2 or r["ptype"] == 4:
        r["spec"] = [u32()]
    if r["ptype"] == 3:
        r["spec"] = [u32(), u32()]
    r["endtype"], r["count"], r["firstdow"] = u32(), u32(), u32()
    r["deleted"] = [minutes(u32()) for _ in range(u32())]
    r["modified"] = [minutes(u32()) for _ in range(u32())]
    r["start"], r["end"] = minutes(u32()), minutes(u32())
    u32(); u32()
    r["startoff"], r["endoff"] = u32(), u32()
    n = u16()
    ex = []
    for _ in range(n):
        e = {"start": minutes(u32()), "end": minutes(u32()), "orig": minutes(u32())}
        flags = u16()
        e["flags"] = flags
        if flags & 0x1:
            l1, l2 = u16(), u16()
            e["subject8"] = b[p:p + l2].decode("latin-1"); p += l2
        for bit in (0x2, 0x4, 0x8):
            if flags & bit:
                u32()
        if flags & 0x10:
            l1, l2 = u16(), u16()
            e["location8"] = b[p:p + l2].decode("latin-1"); p += l2
        for bit in (0x20, 0x40, 0x80):
            if flags & bit:
                u32()
        ex.append(e)
    skip = u32()  # ReservedBlock1
    p += skip
    for e in ex:  # ExtendedException (WriterVersion2 >= 0x3009)
        skip = u32()  # ChangeHighlightSize + value
        p += skip
        skip = u32()  # ReservedBlockEE1
        p += skip
        if e["flags"] & 0x11:
            s, en, o = u32(), u32(), u32()
            if (minutes(s), minutes(en), minutes(o)) != (e["start"], e["end"], e["orig"]):
                raise ValueError("ExtendedException times differ from ExceptionInfo")
            if e["flags"] & 0x1:
                n2 = u16(); e["subject"] = b[p:p + 2 * n2].decode("utf-16-le"); p += 2 * n2
            if e["flags"] & 0x10:
                n2 = u16(); e["location"] = b[p:p + 2 * n2].decode("utf-16-le"); p += 2 * n2
            skip = u32()  # ReservedBlockEE2: present only with a subject or location
            p += skip
    skip = u32()  # ReservedBlock2
    p += skip
    if p != len(b):
        raise ValueError("blob: %d bytes left over" % (len(b) - p))
    r["exceptions"] = ex
    return r


def decode_tzdef(b):
    # versions, cbHeader, then cbHeader bytes: wReserved, cchKeyName,
    # KeyName, cRules; the TZRULEs (66 bytes each) follow.
    cb = struct.unpack_from("<H", b, 2)[0]
    count = struct.unpack_from("<H", b, 4 + cb - 2)[0]
    rules = []
    p = 4 + cb
    for _ in range(count):
        flags, year = struct.unpack_from("<HH", b, p + 4)
        bias, sbias, dbias = struct.unpack_from("<iii", b, p + 22)
        std = struct.unpack_from("<8H", b, p + 34)
        dst = struct.unpack_from("<8H", b, p + 50)
        rules.append({"flags": flags, "year": year, "bias": bias, "sbias": sbias, "dbias": dbias, "std": std, "dst": dst})
        p += 66
    return rules


def transition(year, st):
    _, month, dow, week, hour, minute, _, _ = st
    d = dt.datetime(year, month, 1, hour, minute)
    d += dt.timedelta(days=(dow - (d.weekday() + 1) % 7) % 7)
    d += dt.timedelta(weeks=week - 1)
    while d.month != month:
        d -= dt.timedelta(weeks=1)
    return d


def rule_for(rules, year):
    """MS-OXOCAL 2.2.1.41.1: a TZRULE holds from its wYear on, until the
    next rule's year; the first also before its year."""
    rule = rules[0]
    for x in rules:
        if x["year"] <= year:
            rule = x
    return rule


def to_utc(local, rules):
    rule = rule_for(rules, local.year)
    off = rule["bias"] + rule["sbias"]
    if rule["dst"][1]:
        a, b = transition(local.year, rule["dst"]), transition(local.year, rule["std"])
        in_dst = a <= local < b if a < b else not (b <= local < a)
        if in_dst:
            off = rule["bias"] + rule["dbias"]
    return local + dt.timedelta(minutes=off)


def expand(r, tzrule, limit):
    """Local start times of the series: daily and weekly patterns."""
    out = []
    day = r["start"]
    n = 0
    while len(out) < limit and day <= r["end"]:
        ok = False
        if r["ptype"] == 0:
            ok = ((day - EPOCH).days * 1440 - r["first"]) % r["period"] == 0
        elif r["ptype"] == 1:
            mask = r["spec"][0]
            weekstart = day - dt.timedelta(days=(((day.weekday() + 1) % 7) - r["firstdow"]) % 7)
            weeks = ((weekstart - EPOCH).days * 1440 - r["first"]) // (7 * 1440)
            ok = mask & (1 << ((day.weekday() + 1) % 7)) and weeks % (r["period"] if r["freq"] == 0x200B else 1) == 0
        if ok:
            n += 1
            if r["endtype"] == 0x2022 and n > r["count"]:
                break
            if day not in r["deleted"]:
                out.append(day + dt.timedelta(minutes=r["startoff"]))
        day += dt.timedelta(days=1)
    return out


def main():
    f = pypff.file()
    f.open(sys.argv[1])
    cases = {c["subject"]: c for c in json.loads(sys.argv[2])}
    seen = set()

    def walk(folder):
        for i in range(folder.number_of_sub_messages):
            m = folder.get_sub_message(i)
            if m.subject not in cases:
                continue
            seen.add(m.subject)
            check(m, cases[m.subject])
        for i in range(folder.number_of_sub_folders):
            walk(folder.get_sub_folder(i))

    def check_attachments(m, c, r):
        """MS-OXOCAL 2.2.10.1.1: one hidden afException attachment per
        exception, its PidTagExceptionReplaceTime the original start."""
        want = sorted(dt.datetime.fromisoformat(o["orig"]).replace(tzinfo=zoneinfo.ZoneInfo(c["tzid"])).astimezone(dt.timezone.utc).replace(tzinfo=None) for o in c.get("overrides", []))
        got = []
        for i in range(m.number_of_attachments):
            a = m.get_attachment(i)
            e = {x.entry_type: x for x in a.record_sets[0].entries}
            if 0x7FFD in e and e[0x7FFD].data_as_integer & 2 and 0x7FFE in e and e[0x7FFE].data_as_boolean:
                if int.from_bytes(e[0x3705].data, "little") != 5:
                    print("%s: exception attachment with method %s" % (c["subject"], e[0x3705].data))
                got.append(e[0x7FF9].data_as_datetime.replace(tzinfo=None, microsecond=0))
        if sorted(got) != want:
            print("%s: exception attachments for %s, want %s" % (c["subject"], [str(x) for x in sorted(got)], [str(x) for x in want]))

    def check(m, c):
        blob = tzdef = None
        for e in m.record_sets[0].entries:
            d = e.data or b""
            if e.value_type == 0x102 and d[:4] == b"\x04\x30\x04\x30":
                blob = d
            if e.value_type == 0x102 and d[:2] == b"\x02\x01" and len(d) > 70:
                rules = decode_tzdef(d)
                if any(x["flags"] & 1 for x in rules):
                    tzdef = rules
        if blob is None or tzdef is None:
            print("%s: no recurrence blob or recurrence time zone" % c["subject"])
            return
        r = decode_recur(blob)
        check_attachments(m, c, r)
        # Each occurrence's local time is read with the rule of its year.
        rule = tzdef
        zone = zoneinfo.ZoneInfo(c["tzid"])
        start = dt.datetime.fromisoformat(c["start"]).replace(tzinfo=zone)
        rs = rrule.rruleset()
        rs.rrule(rrule.rrulestr(c["rule"], dtstart=start))
        for x in c.get("exdates", []) + c.get("cancels", []):
            rs.exdate(dt.datetime.fromisoformat(x).replace(tzinfo=zone))
        want = [x.astimezone(dt.timezone.utc).replace(tzinfo=None) for x in rs[:60]]
        mods = {dt.datetime.fromisoformat(o["orig"]).replace(tzinfo=zone).astimezone(dt.timezone.utc).replace(tzinfo=None): o for o in c.get("overrides", [])}
        got = [to_utc(x, rule) for x in expand(r, rule, 60)]
        # Modified occurrences: the blob lists the original date as deleted
        # and an ExceptionInfo; expand() skips them, so add them back at
        # their original time for the series comparison.
        for e in r["exceptions"]:
            got.append(to_utc(e["orig"], rule))
        got.sort()
        if got != want:
            print("%s: occurrences (UTC) %s, want %s" % (c["subject"], [str(x) for x in got[:12]], [str(x) for x in want[:12]]))
        if len(r["exceptions"]) != len(mods):
            print("%s: %d exceptions, want %d" % (c["subject"], len(r["exceptions"]), len(mods)))
        for e in r["exceptions"]:
            o = mods.get(to_utc(e["orig"], rule))
            if o is None:
                print("%s: exception for %s not expected" % (c["subject"], e["orig"]))
                continue
            ws = dt.datetime.fromisoformat(o["start"]).replace(tzinfo=zone).astimezone(dt.timezone.utc).replace(tzinfo=None)
            we = dt.datetime.fromisoformat(o["end"]).replace(tzinfo=zone).astimezone(dt.timezone.utc).replace(tzinfo=None)
            if to_utc(e["start"], rule) != ws or to_utc(e["end"], rule) != we:
                print("%s: exception %s at %s-%s, want %s-%s" % (c["subject"], e["orig"], to_utc(e["start"], rule), to_utc(e["end"], rule), ws, we))
            # No ARO_SUBJECT: the occurrence has the series' subject.
            if o.get("subject") and e.get("subject", c["subject"]) != o["subject"]:
                print("%s: exception subject %r, want %r" % (c["subject"], e.get("subject"), o["subject"]))
            mdates = [x.date() for x in r["modified"]]
            if e["start"].date() not in mdates:
                print("%s: modified instance date %s not listed" % (c["subject"], e["start"].date()))
            if dt.datetime.combine(e["orig"].date(), dt.time()) not in r["deleted"]:
                print("%s: original date %s of a modified instance not in the deleted dates" % (c["subject"], e["orig"].date()))

    walk(f.root_folder)
    for s in cases:
        if s not in seen:
            print("%s: not found" % s)


main()
