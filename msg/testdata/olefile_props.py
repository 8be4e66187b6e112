#!/usr/bin/python3
"""Dump the raw MAPI properties of .msg files as JSON, read with olefile.

An independent reader for msg's cross-check test: olefile parses the
compound file, and this script decodes MS-OXMSG itself (property stream
entries, __substg1.0_ streams) without any of crmbridge's code. Usage:
olefile_props.py FILE... ; prints one JSON object per file, keyed by path.
"""
import hashlib
import json
import struct
import sys

import olefile

FT_EPOCH = 116444736000000000


def filetime(v):
    if v == 0 or v >= 0x0CA8A4E2A3E3D800:
        return None
    import datetime
    us = (v - FT_EPOCH) // 10
    return (datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entries(ole, storage, header):
    """Property stream entries: {id: (type, 8-byte value)} (MS-OXMSG 2.4)."""
    path = storage + ["__properties_version1.0"]
    out = {}
    if not ole.exists("/".join(path)):
        return out
    data = ole.openstream(path).read()
    for off in range(header, len(data) - 15, 16):
        tag, _flags = struct.unpack_from("<II", data, off)
        pid, typ = tag >> 16, tag & 0xFFFF
        out.setdefault(pid, (typ, data[off + 8:off + 16]))
    return out


def stream(ole, storage, name):
    path = "/".join(storage + [name])
    if ole.exists(path) and ole.get_type(path) == olefile.STGTY_STREAM:
        return ole.openstream(path).read()
    return None


def string(ole, storage, props, pid, cp):
    for typ, dec in ((0x001F, "utf-16-le"), (0x001E, cp)):
        b = stream(ole, storage, "__substg1.0_%04X%04X" % (pid, typ))
        if b is not None:
            s = b.decode(dec, errors="replace")
            return s.split("\0")[0]
    return None


def fixed(props, pid, fmt):
    if pid in props:
        return struct.unpack_from(fmt, props[pid][1])[0]
    return None


CODEPAGES = {1250: "cp1250", 1251: "cp1251", 1252: "cp1252", 1253: "cp1253", 1254: "cp1254",
             1255: "cp1255", 1256: "cp1256", 1257: "cp1257", 932: "cp932", 936: "gbk", 949: "cp949",
             950: "cp950", 65001: "utf-8", 20127: "ascii", 28591: "latin-1", 28592: "iso8859-2",
             28595: "iso8859-5", 20866: "koi8-r", 50220: "cp932", 51932: "euc-jp", 54936: "gb18030"}


PSETID_APPOINTMENT = "00062002-0000-0000-c000-000000000046"
PSETID_MEETING = "6ed8da90-450b-101b-98da-00aa003f1305"


def named_ids(ole):
    """{(set guid, lid): property id} of numeric named properties, from the
    named property mapping storage (MS-OXMSG 2.2.3.1)."""
    import uuid
    guids = stream(ole, ["__nameid_version1.0"], "__substg1.0_00020102") or b""
    ents = stream(ole, ["__nameid_version1.0"], "__substg1.0_00030102") or b""
    sets = {1: "00020328-0000-0000-c000-000000000046", 2: "00020329-0000-0000-c000-000000000046"}
    for i in range(len(guids) // 16):
        sets[3 + i] = str(uuid.UUID(bytes_le=guids[16 * i:16 * i + 16]))
    out = {}
    for off in range(0, len(ents) - 7, 8):
        ident, kind_guid, index = struct.unpack_from("<IHH", ents, off)
        if kind_guid & 1 == 0 and (kind_guid >> 1) in sets:
            out[(sets[kind_guid >> 1], ident)] = 0x8000 + index
    return out


def message(ole, storage, header, cp=None):
    props = entries(ole, storage, header)
    names = named_ids(ole)

    def lid(pset, n, fmt):
        pid = names.get((pset, n))
        return fixed(props, pid, fmt) if pid is not None else None

    def lid_binary(pset, n):
        pid = names.get((pset, n))
        return stream(ole, storage, "__substg1.0_%04X0102" % pid) if pid is not None else None

    if cp is None:
        c = fixed(props, 0x3FFD, "<i") or fixed(props, 0x3FDE, "<i") or 1252
        cp = CODEPAGES.get(c, "cp1252")
    m = {
        "class": string(ole, storage, props, 0x001A, cp),
        "subject": string(ole, storage, props, 0x0037, cp),
        "body": string(ole, storage, props, 0x1000, cp),
        "sender_name": string(ole, storage, props, 0x0C1A, cp),
        "sender_email": string(ole, storage, props, 0x0C1F, cp),
        "sender_addrtype": string(ole, storage, props, 0x0C1E, cp),
        "sender_smtp": string(ole, storage, props, 0x5D01, cp),
        "message_id": string(ole, storage, props, 0x1035, cp),
        "sent": filetime(fixed(props, 0x0039, "<Q") or 0),
        "received": filetime(fixed(props, 0x0E06, "<Q") or 0),
        "recipients": [],
        "attachments": [],
        # MS-OXOCAL 2.2.1.2, 2.2.5.4, 2.2.5.5
        "appointment_sequence": lid(PSETID_APPOINTMENT, 0x8201, "<i"),
        "owner_critical_change": filetime(lid(PSETID_MEETING, 0x001A, "<Q") or 0),
        "attendee_critical_change": filetime(lid(PSETID_MEETING, 0x0001, "<Q") or 0),
        "goid_instance_date": None,
        "start_recurrence_seconds": None,
    }
    # MS-OXOCAL 2.2.1.27: PidLidGlobalObjectId's instance date, bytes 16-17
    # the year (big-endian), 18 the month, 19 the day; "" when zero.
    goid = lid_binary(PSETID_MEETING, 0x0003)
    if goid is not None and len(goid) >= 20:
        year = goid[16] << 8 | goid[17]
        m["goid_instance_date"] = "%04d-%02d-%02d" % (year, goid[18], goid[19]) if year else ""
    # MS-OXPROPS 2.304 PidLidStartRecurrenceTime: bits 0-5 seconds, 6-11
    # minutes, 12 and up hours.
    srt = lid(PSETID_MEETING, 0x000E, "<i")
    if srt is not None:
        m["start_recurrence_seconds"] = (srt >> 12) * 3600 + ((srt >> 6) & 0x3F) * 60 + (srt & 0x3F)
    names = [e for e in ole.listdir(streams=False, storages=True) if e[:-1] == storage]
    for e in sorted(names):
        sub = e
        if sub[-1].startswith("__recip_version1.0_#"):
            rp = entries(ole, sub, 8)
            m["recipients"].append({
                "type": fixed(rp, 0x0C15, "<i"),
                "name": string(ole, sub, rp, 0x3001, cp),
                "smtp": string(ole, sub, rp, 0x39FE, cp),
                "email": string(ole, sub, rp, 0x3003, cp),
                "addrtype": string(ole, sub, rp, 0x3002, cp),
            })
        elif sub[-1].startswith("__attach_version1.0_#"):
            ap = entries(ole, sub, 8)
            a = {
                "long_name": string(ole, sub, ap, 0x3707, cp),
                "name": string(ole, sub, ap, 0x3704, cp),
                "display_name": string(ole, sub, ap, 0x3001, cp),
                "method": fixed(ap, 0x3705, "<i"),
                "sha256": None,
                "size": None,
                "embedded": None,
            }
            data = stream(ole, sub, "__substg1.0_37010102")
            if data is not None:
                a["sha256"] = hashlib.sha256(data).hexdigest()
                a["size"] = len(data)
            emb = sub + ["__substg1.0_3701000D"]
            if ole.exists("/".join(emb)) and ole.get_type("/".join(emb)) == olefile.STGTY_STORAGE:
                a["embedded"] = message(ole, emb, 24, cp)
            m["attachments"].append(a)
    return m


def main():
    out = {}
    for path in sys.argv[1:]:
        try:
            ole = olefile.OleFileIO(path)
            out[path] = message(ole, [], 32)
        except Exception as e:  # reported, compared as an error
            out[path] = {"error": str(e)}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
