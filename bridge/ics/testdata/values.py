# Prints, for each VEVENT and VTODO of the iCalendar file given, the values
# Python's icalendar reads, as JSON: times as UTC RFC 3339 ("...Z"), dates
# as YYYY-MM-DD. Used by TestEncodePython as an independent reader.
import datetime
import json
import sys

import icalendar


def utc(v):
    d = v.dt
    if isinstance(d, datetime.datetime):
        if d.tzinfo is None:
            return "floating:" + d.isoformat()
        return d.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return d.isoformat()


def dates(props):
    """The values of EXDATE or RDATE properties: UTC instants ("...Z"),
    dates, or floating times (isoformat without zone); a PERIOD by its
    start."""
    if not isinstance(props, list):
        props = [props]
    out = []
    for e in props:
        for d in e.dts:
            v = d.dt
            if isinstance(v, tuple):
                v = v[0]
            if isinstance(v, datetime.datetime) and v.tzinfo:
                out.append(v.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
            else:
                out.append(v.isoformat())
    return out


def components(path):
    out = []
    cal = icalendar.Calendar.from_ical(open(path, 'rb').read())
    for c in cal.walk():
        if c.name in ('VEVENT', 'VTODO'):
            out.append(values(c))
    return out


def values(c):
    o = {"name": c.name}
    for k in ('UID', 'SUMMARY', 'DESCRIPTION', 'LOCATION', 'STATUS', 'CLASS', 'TRANSP'):
        if k in c:
            o[k] = str(c[k])
    for k in ('PRIORITY', 'PERCENT-COMPLETE'):
        if k in c:
            o[k] = int(c[k])
    for k in ('DTSTART', 'DTEND', 'DUE', 'COMPLETED', 'RECURRENCE-ID'):
        if k in c:
            o[k] = utc(c[k])
    if 'CATEGORIES' in c:
        cats = c['CATEGORIES']
        if not isinstance(cats, list):
            cats = [cats]
        o['CATEGORIES'] = [str(x) for cat in cats for x in cat.cats]
    att = c.get('ATTENDEE')
    if att is not None:
        if not isinstance(att, list):
            att = [att]
        o['ATTENDEE'] = [[str(a), a.params.get('CN', ''), a.params.get('ROLE', ''), a.params.get('PARTSTAT', '')] for a in att]
    if 'ORGANIZER' in c:
        o['ORGANIZER'] = [str(c['ORGANIZER']), c['ORGANIZER'].params.get('CN', '')]
    if 'RRULE' in c:
        try:
            o['RRULE'] = c['RRULE'].to_ical().decode()
        except (KeyError, AttributeError):
            # icalendar reads but cannot re-serialize some rules (RFC 7529
            # RSCALE, "BYDAY=MO, TU"); not a problem of the file.
            o['RRULE'] = None
    for k in ('EXDATE', 'RDATE'):
        if k in c:
            o[k] = dates(c[k])
    alarms = [a for a in c.subcomponents if a.name == 'VALARM']
    if alarms:
        o['TRIGGER'] = alarms[0]['TRIGGER'].to_ical().decode()
    return o


# One file: its list of components. Several: {file: list or {"error": ...}}.
if len(sys.argv) == 2:
    json.dump(components(sys.argv[1]), sys.stdout, indent=1, ensure_ascii=False)
else:
    res = {}
    for path in sys.argv[1:]:
        try:
            res[path] = components(path)
        except Exception as e:
            res[path] = {"error": "%s: %s" % (type(e).__name__, e)}
    json.dump(res, sys.stdout, indent=1, ensure_ascii=False)
