"""EMV MPM cross-check peer: reads payloads (one JSON string per line) on stdin and prints, for each, one JSON
line with the independent decoder's verdict (cemacqr, PyPI): whether the text parses as TLV, the violation
codes of its EMVCo validation, and the decoded objects (templates with their children).

Run by test/support/emv-peer.ts with the venv that scripts/setup.mjs builds (ensureEmvPeer).
"""
import json
import sys

from cemacqr import tlv, validate
from cemacqr.errors import QrSyntaxError
from cemacqr.payload import EmvQr

TEMPLATES = {str(n) for n in range(26, 52)} | {"62", "64"} | {str(n) for n in range(80, 100)}


def verdict(text: str) -> dict:
    try:
        objects = tlv.parse(text)
    except QrSyntaxError as e:
        return {"syntax": False, "error": str(e)}
    # EmvQr.parse would strip surrounding whitespace; build it from the raw text so both sides see the same bytes.
    report = validate(EmvQr(raw=text, objects=objects))
    fields = []
    for item in objects:
        if item.tag in TEMPLATES:
            try:
                children = [[c.tag, c.value] for c in tlv.parse(item.value)]
            except QrSyntaxError:
                children = None
            fields.append([item.tag, item.value, children])
        else:
            fields.append([item.tag, item.value, None])
    return {
        "syntax": True,
        "valid": report.ok,
        "violations": sorted({v.code for v in report.violations}),
        "fields": fields,
    }


def main() -> None:
    out = sys.stdout
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        out.write(json.dumps(verdict(json.loads(line)), ensure_ascii=False) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
