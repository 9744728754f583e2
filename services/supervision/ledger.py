"""The record side of a service order: its identity, the hash-chained timeline, and its deadlines (what happens
next, when, and unless whom acts). `ServiceOrder` builds its flow on top of this."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from services.supervision.records import GENESIS, Deadline, TimelineEntry
from shared.schemas import (
    DeadlineCleared,
    DeadlineClearedPayload,
    DeadlineKind,
    DeadlineScheduled,
    DeadlineScheduledPayload,
    Event,
    Parties,
    PartyRole,
)

PRODUCER = "supervision"
CONSEQUENCE = {
    DeadlineKind.AUTO_ACCEPTANCE: "the system accepts the delivery",
    DeadlineKind.IDLE: "the other party may appeal",
    DeadlineKind.LONG_RUNNING: "the buyer's BD and the merchant are reminded that the order is not accepted",
    DeadlineKind.APPEAL_SLA: "the appeal is escalated",
}
HERE = "<current node>"
PAUSABLE = {DeadlineKind.AUTO_ACCEPTANCE, DeadlineKind.IDLE}  # 180 days count from the order (dossier §1.5)


class Ledger(BaseModel):
    service_order_id: str
    order_id: str
    parties: Parties
    node: str | None
    deadlines: list[Deadline] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)

    def _env(self, corr: str) -> dict[str, str]:
        return {"producer": PRODUCER, "correlation_id": corr, "order_id": self.order_id}

    def _record(self, now: datetime, role: PartyRole, account: str | None, action: str, node: str,
                to_node: str | None, note: str = "", details: dict[str, Any] | None = None) -> None:
        prev = self.timeline[-1].hash if self.timeline else GENESIS
        entry = TimelineEntry(seq=len(self.timeline) + 1, at=now, actor_role=role, actor_account_id=account,
                              action=action, node=node, to_node=to_node, note=note, details=details or {},
                              prev_hash=prev)
        entry.hash = entry.digest()
        self.timeline.append(entry)

    def _schedule(self, kind: DeadlineKind, party: PartyRole, due: datetime, corr: str, *,
                  node: str | None = HERE) -> DeadlineScheduled:
        """A deadline at the current node (cleared when the flow leaves it), or at none (`node=None`)."""
        deadline = Deadline(deadline_id=f"DL-{uuid.uuid4().hex[:12]}", kind=kind,
                            node=self.node if node == HERE else node, party=party, due_at=due,
                            consequence=CONSEQUENCE[kind])
        self.deadlines = [d for d in self.deadlines if d.deadline_id != deadline.deadline_id] + [deadline]
        return self._scheduled(deadline, corr)

    def _scheduled(self, d: Deadline, corr: str) -> DeadlineScheduled:
        return DeadlineScheduled(**self._env(corr), payload=DeadlineScheduledPayload(
            deadline_id=d.deadline_id, kind=d.kind, service_order_id=self.service_order_id, order_id=self.order_id,
            node=d.node, party=d.party, due_at=d.due_at, consequence=d.consequence, parties=self.parties))

    def _clear(self, which: Any, reason: str, now: datetime, corr: str) -> list[Event]:
        gone = [d for d in self.deadlines if which(d)]
        self.deadlines = [d for d in self.deadlines if not which(d)]
        return [self._cleared(d, reason, now, corr) for d in gone]

    def _cleared(self, d: Deadline, reason: str, now: datetime, corr: str,
                 remaining: float | None = None) -> DeadlineCleared:
        return DeadlineCleared(**self._env(corr), payload=DeadlineClearedPayload(
            deadline_id=d.deadline_id, kind=d.kind, service_order_id=self.service_order_id, order_id=self.order_id,
            reason=reason, remaining_seconds=remaining, parties=self.parties, cleared_at=now))

    def pause_deadlines(self, now: datetime, corr: str) -> list[Event]:
        events: list[Event] = []
        for d in self.deadlines:
            if d.kind in PAUSABLE and d.running:
                d.paused_remaining = max(0.0, (d.due_at - now).total_seconds())
                events.append(self._cleared(d, "paused", now, corr, d.paused_remaining))
        return events

    def resume_deadlines(self, now: datetime, corr: str) -> list[Event]:
        events: list[Event] = []
        for d in self.deadlines:
            if d.paused_remaining is not None:
                d.due_at, d.paused_remaining = now + timedelta(seconds=d.paused_remaining), None
                events.append(self._scheduled(d, corr))
        return events
