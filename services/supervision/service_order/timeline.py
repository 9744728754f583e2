"""The timeline: every operation on a service order, each entry chained to the one before by its hash, so the
record is tamper-evident (dossier §1.1: supervision's log is the evidence of what each party did and when)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.supervision.service_order.records import TimelineEntry
from shared.schemas import PartyRole

GENESIS = "0" * 64


class Timeline:
    """A service order's timeline (its `timeline` list): each operation appended, chained to the one
    before."""

    def __init__(self, entries: list[TimelineEntry]) -> None:
        self.entries = entries

    def record(
        self,
        now: datetime,
        role: PartyRole,
        account: str | None,
        action: str,
        node: str,
        to_node: str | None,
        note: str = "",
        details: dict[str, Any] | None = None,
    ) -> TimelineEntry:
        """Put one operation on record: who did what, at which node, and where the flow went."""
        entry = TimelineEntry(
            seq=len(self.entries) + 1,
            at=now,
            actor_role=role,
            actor_account_id=account,
            action=action,
            node=node,
            to_node=to_node,
            note=note,
            details=details or {},
            prev_hash=self.entries[-1].hash if self.entries else GENESIS,
        )
        entry.hash = entry.digest()
        self.entries.append(entry)
        return entry


def verify_timeline(entries: list[TimelineEntry]) -> int | None:
    """The seq of the first entry whose chain is broken, or None when the timeline is intact."""
    prev = GENESIS
    for entry in entries:
        if entry.prev_hash != prev or entry.digest() != entry.hash:
            return entry.seq
        prev = entry.hash
    return None
