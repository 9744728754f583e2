"""Exactly-once accounting of external sends, from what the sinks (Mailpit, the SMS sink) accepted.

A send is keyed by (order, channel, recipient, kind): the kind is the message's text with its order id masked
("Payment received for order <id>"), so a later message of another kind about the same order (a reminder) is
not taken for a duplicate. Each expected (order, channel, recipient) must have exactly one row of one kind.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ORDER_ID = re.compile(r"CS[0-9]{12}[0-9A-F]{8}")


@dataclass(frozen=True)
class Send:
    order_id: str
    channel: str  # "email" or "sms"
    recipient: str
    kind: str

    @property
    def slot(self) -> tuple[str, str, str]:
        return self.order_id, self.channel, self.recipient


def sends(rows: Iterable[dict[str, Any]], channel: str, text_field: str, to: str) -> list[Send]:
    """One `Send` per order id a sink row mentions (normally one)."""
    out = []
    for row in rows:
        text = str(row.get(text_field, ""))
        for order_id in set(ORDER_ID.findall(text)):
            out.append(Send(order_id, channel, to.lower(), ORDER_ID.sub("<id>", text)))
    return out


def account(seen: Iterable[Send], expected: Iterable[tuple[str, str, str]]) -> dict[str, Any]:
    """Duplicates (a slot's kind seen more than once), missing slots, and sends outside the expected ones."""
    wanted = set(expected)
    per_kind = Counter(s for s in seen if s.slot in wanted)
    slots = {s.slot for s in per_kind}
    duplicates = sum(n - 1 for n in per_kind.values() if n > 1)
    kinds_per_slot = Counter(s.slot for s in per_kind)
    return {
        "expected": len(wanted),
        "delivered": len(slots),
        "duplicates": duplicates,
        "missing": len(wanted - slots),
        "other_kinds": sum(n - 1 for n in kinds_per_slot.values() if n > 1),
        "duplicate_examples": sorted(
            f"{s.order_id} {s.channel} {s.recipient}" for s, n in per_kind.items() if n > 1
        )[:5],
        "missing_examples": sorted(" ".join(slot) for slot in wanted - slots)[:5],
    }
