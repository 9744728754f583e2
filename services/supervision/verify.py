"""Verify an exported service-order timeline and its evidence, offline:

    python -m services.supervision.verify export.json

where export.json is the body of `GET /service-orders/{id}/export`. It recomputes every timeline entry's hash
and the chain of previous hashes, recomputes the SHA-256 of every exported file, and checks that every digest
the timeline mentions (uploads, evidence given with an action) belongs to an exported file. Exit status 0 and
"OK" when everything matches; 1 and one line per problem otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from services.supervision.service_order import TimelineEntry, verify_timeline


def problems(export: dict[str, Any]) -> list[str]:
    found: list[str] = []
    so = export.get("service_order") or {}
    entries = [TimelineEntry.model_validate(e) for e in so.get("timeline", [])]
    if not entries:
        found.append("the export has no timeline")
    broken = verify_timeline(entries)
    if broken is not None:
        found.append(f"timeline entry {broken} does not match its hash or its predecessor's (tampered)")
    digests = set()
    for f in export.get("files", []):
        actual = hashlib.sha256(base64.b64decode(f["content_base64"])).hexdigest()
        if actual != f["sha256"]:
            found.append(
                f"file {f['file_id']} ({f['name']}): content digest {actual} != recorded {f['sha256']}"
            )
        digests.add(f["sha256"])
    for e in entries:
        named = (
            [e.details["sha256"]]
            if e.action == "upload"
            else [
                ev["sha256"] for ev in e.details.get("evidence", []) if ev.get("sha256") and ev.get("file_id")
            ]
        )
        found += [
            f"timeline entry {e.seq} names file digest {d} that is not in the export"
            for d in named
            if d not in digests
        ]
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    found = problems(json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    for line in found:
        print(line)
    if not found:
        print("OK")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
