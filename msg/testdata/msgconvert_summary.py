#!/usr/bin/python3
"""Convert .msg files with msgconvert and summarise the .eml it writes.

The second independent reader of msg's cross-check test: Debian's
msgconvert (libemail-outlook-message-perl) turns each .msg into RFC 5322,
and Python's email package reads that back. Usage:
msgconvert_summary.py OUTDIR FILE... ; prints one JSON object per file.
"""
import email
import email.policy
import email.utils
import hashlib
import json
import os
import subprocess
import sys


def addrs(msg, name):
    vals = msg.get_all(name, [])
    return [a.lower() for _, a in email.utils.getaddresses([str(v) for v in vals]) if a]


def summary(eml):
    with open(eml, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.compat32)
    date = msg.get("Date")
    when = None
    if date:
        try:
            when = email.utils.parsedate_to_datetime(date).astimezone(__import__("datetime").timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        except (TypeError, ValueError):
            pass
    subj = msg.get("Subject")
    if subj is not None:
        subj = str(email.header.make_header(email.header.decode_header(subj)))
    out = {"subject": subj, "from": addrs(msg, "From"), "to": addrs(msg, "To"), "cc": addrs(msg, "Cc"),
           "bcc": addrs(msg, "Bcc"), "date": when, "body": None, "attachments": []}
    for part in msg.walk():
        if part.is_multipart():
            continue
        fn = part.get_filename()
        disp = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        payload = part.get_payload(decode=True) or b""
        if fn is not None or disp == "attachment":
            if fn is not None:
                fn = str(email.header.make_header(email.header.decode_header(fn)))
            out["attachments"].append({"name": fn, "sha256": hashlib.sha256(payload).hexdigest(),
                                       "type": part.get_content_type()})
        elif part.get_content_type() == "text/plain" and out["body"] is None:
            cs = part.get_content_charset() or "utf-8"
            out["body"] = payload.decode(cs, errors="replace")
    return out


def main():
    outdir = sys.argv[1]
    res = {}
    for i, path in enumerate(sys.argv[2:]):
        eml = os.path.join(outdir, "%d.eml" % i)
        p = subprocess.run(["msgconvert", "--outfile", eml, path], capture_output=True)
        if p.returncode != 0 or not os.path.exists(eml):
            res[path] = {"error": p.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["failed"]}
            continue
        res[path] = summary(eml)
    json.dump(res, sys.stdout)


if __name__ == "__main__":
    main()
