"""Independent reading of EML files and mbox files with Python's email and
mailbox packages, for bridge/eml's comparison tests.

Usage: pyemail.py eml FILE...   one JSON object per file
       pyemail.py mbox FILE...  {"file": ..., "count": N, "subjects": [...],
                                "texts": [...]} per file

Attachments follow the same rule as the Go reader (see parse.go walk): the
first non-empty text/plain and the first non-empty text/html part without a
file name and not marked "attachment" are the bodies (an empty one is
neither body nor attachment); the parameters of an invalid Content-Type are
discarded (RFC 2045 5.2); every other leaf part, and every message/* part,
is an attachment. Python's own decoding (get_payload with
decode=True) gives the bytes that are hashed.
"""
import datetime
import email
import email.header
import email.utils
import hashlib
import json
import mailbox
import sys


def to_text(v):
    """Raw header value (str with surrogate escapes for 8-bit bytes) to
    text: UTF-8 when valid, else windows-1252, like the Go reader."""
    if v is None:
        return ""
    if isinstance(v, email.header.Header):
        v = str(v)
    try:
        b = v.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return v  # already decoded (RFC 2231 parameter)
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("cp1252", "replace")


def decode(v):
    s = to_text(v)
    try:
        return str(email.header.make_header(email.header.decode_header(s)))
    except Exception:
        return s


def raw_values(msg, name):
    return [v for k, v in msg._headers if k.lower() == name.lower()]


def addresses(msg, name):
    vals = [to_text(v) for v in raw_values(msg, name)]
    return [a.lower() for _, a in email.utils.getaddresses(vals) if "@" in a]


def filename(part):
    """get_filename, except that the parameters of an invalid Content-Type
    are discarded (RFC 2045 5.2), which Python does not do."""
    fn = part.get_param("filename", None, "content-disposition")
    if fn is None:
        raw = part.get("content-type")
        mt = str(raw).split(";")[0].strip().lower() if raw is not None else ""
        if raw is not None and mt != part.get_content_type():
            return None  # Python read the type as text/plain: invalid
        fn = part.get_param("name", None, "content-type")
    if fn is None:
        return None
    return email.utils.collapse_rfc2231_value(fn).strip()


def walk(part, seen, out):
    ctype = part.get_content_type()
    if part.is_multipart():
        if ctype.startswith("multipart/"):
            for p in part.get_payload():
                walk(p, seen, out)
        else:
            out.append({"name": None, "type": ctype, "sha": None})
        return
    if ctype.startswith("multipart/"):
        ctype = "text/plain"  # multipart without a usable boundary
    fname = filename(part)
    if fname is not None:
        fname = decode(fname)
    disp = part.get_content_disposition()
    payload = part.get_payload(decode=True)
    if disp != "attachment" and fname is None and ctype in ("text/plain", "text/html"):
        if ctype not in seen:
            if payload is None or not payload.strip():
                return  # an empty text part shows nothing: not the body
            seen.add(ctype)
            if ctype == "text/plain":
                seen.add(("text", body_text(part, payload)))
            return
    sha = hashlib.sha256(payload).hexdigest() if payload is not None else None
    out.append({"name": fname, "type": ctype, "sha": sha})


def body_text(part, payload):
    """The text of a body part: its declared charset when Python knows
    it, invalid bytes replaced (as the email package's get_content does),
    else UTF-8 when valid, else windows-1252 (the Go reader's rule)."""
    cs = part.get_content_charset()
    if cs:
        try:
            return payload.decode(cs, "replace")
        except LookupError:
            pass
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("cp1252", "replace")


def utc_date(msg):
    v = raw_values(msg, "date")
    if not v:
        return None
    try:
        d = email.utils.parsedate_to_datetime(to_text(v[0]))
    except Exception:
        return None
    if d is None or d.tzinfo is None:
        return None
    return d.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(msg):
    atts = []
    seen = set()
    walk(msg, seen, atts)
    mid = raw_values(msg, "message-id")
    text = [x[1] for x in seen if isinstance(x, tuple)]
    return {
        "text": text[0] if text else None,
        "cc": addresses(msg, "cc"),
        "date": utc_date(msg),
        "messageid": to_text(mid[0]).strip() if mid else "",
        "subject": " ".join(decode(raw_values(msg, "subject")[0]).split()) if raw_values(msg, "subject") else "",
        "from": addresses(msg, "from"),
        "to": addresses(msg, "to"),
        "attachments": atts,
    }


def main():
    mode, files = sys.argv[1], sys.argv[2:]
    for f in files:
        if mode == "eml":
            with open(f, "rb") as fh:
                msg = email.message_from_binary_file(fh)
            d = describe(msg)
            d["file"] = f
        else:
            mb = mailbox.mbox(f, create=False)
            subjects, texts = [], []
            for key in mb.keys():
                m = mb.get_message(key)
                v = raw_values(m, "subject")
                subjects.append(" ".join(decode(v[0]).split()) if v else "")
                texts.append(describe(m)["text"])
            d = {"file": f, "count": len(subjects), "subjects": subjects, "texts": texts}
        print(json.dumps(d))


main()
