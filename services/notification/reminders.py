"""Deadline-aware reminders: escalate toward a business deadline, in-site first, then e-mail, then SMS. Pure.

A `deadline.scheduled` (automatic acceptance, an appeal's SLA, an idle node; dossier §3.6, §5.3) starts a
series for the party expected to act. Its steps sit at fractions of the time that was left when it was
scheduled (by default half, a quarter and a tenth of it remain), so the same rule fits a 10-day acceptance
window and a 6-second test. `deadline.cleared` (acted / paused / cancelled / expired) stops the series of that
deadline; a re-scheduled deadline (resumed after an appeal) starts a new series with its own idempotency keys.

Schedulings and clearings come on two topics, so in any order. A clearing is about the schedules made before
it: it stops the series scheduled at or before it, and a scheduling read after a later clearing of its
deadline starts stopped. Both times are the producer's (`occurred_at`): one deadline's schedulings and
clearings come from one service order's successive transactions in supervision, so its clock orders them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel

from services.notification.catalogue import Channel
from shared.schemas import DeadlineScheduled, Parties, PartyRole

LADDER = (Channel.IN_SITE, Channel.EMAIL, Channel.SMS)


class Step(BaseModel):
    at: AwareDatetime
    channel: Channel
    state: Literal["waiting", "sent", "skipped"] = "waiting"


class Clearing(BaseModel):
    """The latest clearing seen of a deadline (paused, acted ...): it stops a scheduling read after it too."""

    deadline_id: str
    reason: str
    at: AwareDatetime  # when the producer cleared it


class Series(BaseModel):
    series_id: str  # the scheduling event's id: a redelivered event finds its series, a new schedule is new
    deadline_id: str
    kind: str
    order_id: str
    node: str | None
    party: PartyRole
    due_at: AwareDatetime
    consequence: str
    parties: Parties
    steps: list[Step]
    status: Literal["active", "stopped", "finished"] = "active"
    stopped_reason: str | None = None
    next_at: AwareDatetime | None
    scheduled_at: AwareDatetime | None = None  # when the producer scheduled it (None: a series from before)

    @classmethod
    def plan(cls, event: DeadlineScheduled, fractions: tuple[float, ...], now: datetime) -> Series:
        p = event.payload
        span = max(timedelta(0), p.due_at - now)
        steps = [
            Step(at=p.due_at - span * f, channel=ch)
            for f, ch in zip(sorted(fractions, reverse=True), LADDER, strict=False)
        ]
        active = p.party is not PartyRole.SYSTEM and span > timedelta(0)
        deadline = p.model_dump(include={"deadline_id", "order_id", "node", "party", "due_at", "consequence"})
        return cls(
            **deadline,
            series_id=str(event.event_id),
            kind=p.kind.value,
            parties=p.parties,
            steps=steps,
            status="active" if active else "finished",
            stopped_reason=None if active else "nobody to remind or already due",
            next_at=steps[0].at if active and steps else None,
            scheduled_at=event.occurred_at,
        )

    def take_due(self, now: datetime) -> tuple[Series, Step | None]:
        """The step to send now (the most escalated one that is due; earlier ones missed are skipped)."""
        if self.status != "active":
            return self, None
        if now >= self.due_at:
            return self.model_copy(
                update={"status": "finished", "next_at": None, "stopped_reason": "deadline passed"}
            ), None
        due = [i for i, s in enumerate(self.steps) if s.state == "waiting" and s.at <= now]
        if not due:
            return self, None
        steps = [
            s.model_copy(update={"state": "skipped"}) if i in due[:-1] else s
            for i, s in enumerate(self.steps)
        ]
        steps[due[-1]] = steps[due[-1]].model_copy(update={"state": "sent"})
        waiting = [s.at for s in steps if s.state == "waiting"]
        return self.model_copy(
            update={
                "steps": steps,
                "next_at": min(waiting) if waiting else None,
                "status": "active" if waiting else "finished",
            }
        ), steps[due[-1]]

    def cleared_by(self, clearing: Clearing) -> Series:
        """Stopped if `clearing` came after this schedule was made (else it was about an earlier schedule)."""
        if self.scheduled_at is not None and self.scheduled_at > clearing.at:
            return self
        return self.stop(clearing.reason)

    def stop(self, reason: str) -> Series:
        """The party acted (or the deadline was paused / cancelled / expired): no further reminder."""
        if self.status != "active":
            return self
        return self.model_copy(update={"status": "stopped", "stopped_reason": reason, "next_at": None})
