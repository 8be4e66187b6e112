"""Independent reading of report messages (RFC 6522 multipart/report) with
Python's email package, for bridge/eml's report tests.

Usage: pyreport.py FILE...   one JSON object per file:
  type         the top-level content type
  report_type  its report-type parameter (or null)
  parts        the content types of the top-level parts
  blocks       for a message/delivery-status, message/disposition-notification
               or message/feedback-report part: the field blocks Python
               parsed from it, each as a {lower-case name: value} map
  defects      every defect Python noted in any part, as text
"""
import email
import email.policy
import json
import sys

REPORTS = ("message/delivery-status", "message/global-delivery-status",
           "message/disposition-notification", "message/global-disposition-notification",
           "message/feedback-report")


def main():
    for f in sys.argv[1:]:
        with open(f, "rb") as fh:
            msg = email.message_from_binary_file(fh, policy=email.policy.compat32)
        parts = msg.get_payload() if msg.is_multipart() else []
        blocks = []
        for p in parts:
            if p.get_content_type() in REPORTS:
                payload = p.get_payload()
                if isinstance(payload, list):
                    blocks = [{k.lower(): str(v) for k, v in b.items()} for b in payload]
                else:
                    blocks = None  # not parsed into field blocks
        defects = []
        for p in msg.walk():
            defects += [type(d).__name__ for d in p.defects]
        print(json.dumps({
            "file": f,
            "type": msg.get_content_type(),
            "report_type": msg.get_param("report-type"),
            "parts": [p.get_content_type() for p in parts],
            "blocks": blocks,
            "defects": defects,
        }))


main()
