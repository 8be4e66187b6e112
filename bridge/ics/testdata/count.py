# Counts VEVENT masters, VEVENT exceptions (with RECURRENCE-ID) and VTODOs
# in each file given, with Python's icalendar, falling back to vobject when
# icalendar refuses the file. Prints one JSON object keyed by file name.
# Used by TestCorpusCounts as an independent reader.
import json
import sys

import icalendar

try:
    import vobject
except ImportError:
    vobject = None


def count_icalendar(data):
    m = x = t = 0
    for cal in icalendar.Calendar.from_ical(data, multiple=True):
        for c in cal.walk():
            if c.name == 'VEVENT':
                if 'RECURRENCE-ID' in c:
                    x += 1
                else:
                    m += 1
            elif c.name == 'VTODO':
                t += 1
    return m, x, t


def count_vobject(data):
    m = x = t = 0

    def walk(c):
        nonlocal m, x, t
        name = c.name.upper() if c.name else ''
        if name == 'VEVENT':
            if 'recurrence-id' in c.contents:
                x += 1
            else:
                m += 1
        elif name == 'VTODO':
            t += 1
        for ch in c.getChildren():
            if hasattr(ch, 'getChildren'):
                walk(ch)

    for comp in vobject.readComponents(data.decode('utf-8', 'replace'), ignoreUnreadable=True):
        walk(comp)
    return m, x, t


out = {}
for path in sys.argv[1:]:
    name = path.rsplit('/', 1)[-1]
    data = open(path, 'rb').read()
    try:
        m, x, t = count_icalendar(data)
        out[name] = {"reader": "icalendar", "masters": m, "exceptions": x, "todos": t}
        continue
    except Exception as e:
        err = "icalendar: %s: %s" % (type(e).__name__, e)
    if vobject is not None:
        try:
            m, x, t = count_vobject(data)
            out[name] = {"reader": "vobject", "masters": m, "exceptions": x, "todos": t}
            continue
        except Exception as e:
            err += "; vobject: %s: %s" % (type(e).__name__, e)
    out[name] = {"error": err}
json.dump(out, sys.stdout, indent=1, sort_keys=True)
