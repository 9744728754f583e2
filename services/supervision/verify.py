"""Verify an exported service-order timeline and its evidence, offline:

    python -m services.supervision.verify export.json [keys.json]

where export.json is the body of `GET /service-orders/{id}/export` and keys.json the body of
`GET /timeline-keys` (the public keys you trust, fetched from the service, not from the export). It recomputes
every timeline entry's hash and the chain of previous hashes; checks every signed checkpoint (its Ed25519
signature under a trusted key, and that the chain's entry at its count is the one it signed) and that the last
checkpoint is the export's own and covers the last entry, so a chain rewritten whole or cut short fails;
recomputes the SHA-256 of every exported file, and checks that every digest the timeline mentions (uploads,
evidence given with an action or an appeal) belongs to an exported file. Without keys.json the export's own
public keys are used, and a line says so: they prove the export is intact, not who signed it. Exit status 0
and "OK" when everything matches; 1 and one line per problem otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from services.supervision import checkpoints
from services.supervision.service_order import TimelineEntry, verify_timeline


def problems(export: dict[str, Any], trusted: dict[str, str] | None = None) -> list[str]:
    """Every problem found; `trusted`: the public keys by key id (default: the export's own)."""
    found: list[str] = []
    so = export.get("service_order") or {}
    entries = [TimelineEntry.model_validate(e) for e in so.get("timeline", [])]
    if not entries:
        found.append("the export has no timeline")
    broken = verify_timeline(entries)
    if broken is not None:
        found.append(f"timeline entry {broken} does not match its hash or its predecessor's (tampered)")
    keys = trusted if trusted is not None else (export.get("signing") or {}).get("public_keys") or {}
    stored = [e.details for e in entries if e.action == checkpoints.ACTION]
    listed = export.get("checkpoints") or []
    if listed[:-1] != stored:  # the periodic ones are timeline entries: the list must repeat them all
        found.append("the export's checkpoints are not the timeline's own checkpoint entries")
    found += checkpoints.problems(
        listed, str(so.get("service_order_id", "")), [e.hash for e in entries], keys
    )
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
            else []
            if e.action == checkpoints.ACTION
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


def trusted_keys(published: dict[str, Any]) -> dict[str, str]:
    """The body of GET /timeline-keys as key id -> public key."""
    return {k["key_id"]: k["public_key"] for k in published.get("keys", [])}


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print(__doc__)
        return 2
    export = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    trusted = trusted_keys(json.loads(Path(argv[1]).read_text(encoding="utf-8"))) if len(argv) == 2 else None
    if trusted is None:
        print(
            "note: checked against the export's own public keys; pass GET /timeline-keys to check who signed"
        )
    found = problems(export, trusted)
    for line in found:
        print(line)
    if not found:
        print("OK")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
