"""A service order's deadlines: what happens next, when, and unless whom acts (dossier §3.6), each announced
(deadline.scheduled / deadline.cleared) so notification can remind the party before it passes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from services.supervision.service_order.records import Deadline
from shared.schemas import (
    DeadlineCleared,
    DeadlineClearedPayload,
    DeadlineKind,
    DeadlineScheduled,
    DeadlineScheduledPayload,
    Event,
    PartyRole,
)

CONSEQUENCE = {
    DeadlineKind.AUTO_ACCEPTANCE: "the system accepts the delivery",
    DeadlineKind.IDLE: "the other party may appeal",
    DeadlineKind.LONG_RUNNING: "the buyer's BD and the merchant are reminded that the order is not accepted",
    DeadlineKind.APPEAL_SLA: "the appeal is escalated",
    DeadlineKind.LEGACY_OVERDUE: "the system unsubscribes the order (the old 365-day rule, legacy orders)",
}
HERE = "<current node>"
# An open appeal pauses these; the 180 days count from the order whatever happens (dossier §1.5).
PAUSABLE = {DeadlineKind.AUTO_ACCEPTANCE, DeadlineKind.IDLE}


class Clocked(Protocol):
    """What the deadlines need of their service order."""

    deadlines: list[Deadline]

    @property
    def node(self) -> str | None: ...

    def envelope(self, corr: str) -> dict[str, str]: ...

    def about(self) -> dict[str, Any]: ...


class Deadlines:
    """The deadlines of one service order (its `deadlines` list), and the events that announce each change."""

    def __init__(self, so: Clocked) -> None:
        self.so = so

    def schedule(
        self, kind: DeadlineKind, party: PartyRole, due: datetime, corr: str, *, node: str | None = HERE
    ) -> DeadlineScheduled:
        """A deadline at the current node (cleared when the flow leaves it), or at none (`node=None`)."""
        deadline = Deadline(
            deadline_id=f"DL-{uuid.uuid4().hex[:12]}",
            kind=kind,
            node=self.so.node if node == HERE else node,
            party=party,
            due_at=due,
            consequence=CONSEQUENCE[kind],
        )
        self.so.deadlines = [*self.so.deadlines, deadline]
        return self.scheduled(deadline, corr)

    def clear(self, which: Callable[[Deadline], bool], reason: str, now: datetime, corr: str) -> list[Event]:
        """Remove the deadlines `which` selects; `reason`: acted, expired or cancelled."""
        gone = [d for d in self.so.deadlines if which(d)]
        self.so.deadlines = [d for d in self.so.deadlines if not which(d)]
        return [self.cleared(d, reason, now, corr) for d in gone]

    def clear_all(self, reason: str, now: datetime, corr: str) -> list[Event]:
        return self.clear(lambda d: True, reason, now, corr)

    def running(self, deadline_id: str) -> Deadline | None:
        """The deadline if it exists and is not paused."""
        return next((d for d in self.so.deadlines if d.deadline_id == deadline_id and d.running), None)

    def pause(self, now: datetime, corr: str) -> list[Event]:
        """An appeal opened: each pausable deadline keeps the seconds it had left (dossier §5.3)."""
        events: list[Event] = []
        for d in self.so.deadlines:
            if d.kind in PAUSABLE and d.running:
                d.paused_remaining = max(0.0, (d.due_at - now).total_seconds())
                events.append(self.cleared(d, "paused", now, corr, d.paused_remaining))
        return events

    def resume(self, now: datetime, corr: str) -> list[Event]:
        """The appeal is resolved back to where it froze the flow: the paused deadlines run again."""
        events: list[Event] = []
        for d in self.so.deadlines:
            if d.paused_remaining is not None:
                d.due_at, d.paused_remaining = now + timedelta(seconds=d.paused_remaining), None
                events.append(self.scheduled(d, corr))
        return events

    def scheduled(self, d: Deadline, corr: str) -> DeadlineScheduled:
        which = {"deadline_id": d.deadline_id, "kind": d.kind, **self.so.about()}
        payload = DeadlineScheduledPayload(
            **which, node=d.node, party=d.party, due_at=d.due_at, consequence=d.consequence
        )
        return DeadlineScheduled(**self.so.envelope(corr), payload=payload)

    def cleared(
        self, d: Deadline, reason: str, now: datetime, corr: str, remaining: float | None = None
    ) -> DeadlineCleared:
        which = {"deadline_id": d.deadline_id, "kind": d.kind, **self.so.about()}
        payload = DeadlineClearedPayload(**which, reason=reason, remaining_seconds=remaining, cleared_at=now)
        return DeadlineCleared(**self.so.envelope(corr), payload=payload)
