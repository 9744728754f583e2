"""What each deadline does when it passes (dossier §3.6): the buyer's silence after a hardware sign-off is an
acceptance (§2.4), an idle party lets the other appeal (§5.1), the 180-day reminder goes out (§1.5), an
overdue
appeal is escalated (§5.3)."""

from __future__ import annotations

from datetime import datetime

from services.supervision.flows import Emits, Transition
from services.supervision.rules import Policy
from services.supervision.service_order import notices
from services.supervision.service_order.flow import Actor, follow
from services.supervision.service_order.state import ServiceOrderState, Status
from shared.schemas import (
    AppealOutcome,
    DeadlineKind,
    Event,
    PartyRole,
    SupervisionOverdue,
    SupervisionOverduePayload,
)

LEGACY_REASON = (
    "supervision overdue: not accepted 365 days after payment; the system unsubscribes the order "
    "(dossier §1.5, the old rule kept for legacy orders)"
)


def fire(so: ServiceOrderState, deadline_id: str, now: datetime, corr: str, policy: Policy) -> list[Event]:
    """A deadline's time has come (the timer worker calls this). A stale or paused one does nothing."""
    deadline = so.clocks.running(deadline_id)
    if deadline is None or deadline.due_at > now:
        return []
    events = so.clocks.clear(lambda d: d.deadline_id == deadline_id, "expired", now, corr)
    node = so.node or "completed"
    if deadline.kind is DeadlineKind.AUTO_ACCEPTANCE and so.status is Status.ACTIVE:
        # Dossier §2.4 (hardware, 10 days after the sign-off) and §3.6: the system accepts.
        note = "no action from the buyer before the deadline"
        so.log.record(now, PartyRole.SYSTEM, None, "auto_accept", node, None, note)
        accepted = Transition(to=None, emits=Emits.ACCEPTANCE)
        return events + follow(so, accepted, node, Actor(PartyRole.SYSTEM, None), now, corr, policy)
    if deadline.kind is DeadlineKind.LEGACY_OVERDUE and so.status not in (Status.COMPLETED, Status.REFUNDED):
        return events + legacy_unsubscribe(so, node, now, corr)
    if deadline.kind is DeadlineKind.IDLE:
        so.idle_expired = True
    details: dict[str, str] = {"deadline_id": deadline_id}
    if deadline.kind is DeadlineKind.APPEAL_SLA and so.open_appeal is not None:
        # Overdue: escalated (dossier §5.3, 3 working days), once: the deadline is gone after this firing.
        so.open_appeal.escalated_at = now
        details["appeal_id"] = so.open_appeal.appeal_id
        events.append(notices.appeal_escalated(so, so.open_appeal, now, corr))
    if deadline.kind is DeadlineKind.LONG_RUNNING and so.status is not Status.COMPLETED:
        events.append(notices.long_running(so, now, corr))  # dossier §1.5: remind, never close
    so.log.record(
        now,
        PartyRole.SYSTEM,
        None,
        f"{deadline.kind.value}_due",
        node,
        so.node,
        deadline.consequence,
        details=details,
    )
    return events


def legacy_unsubscribe(so: ServiceOrderState, node: str, now: datetime, corr: str) -> list[Event]:
    """Dossier §1.5, the old rule: at 365 days the system closed the order by its invoicing status, invoiced →
    accepted, not invoiced → unsubscribed; §6.3 keeps "supervision overdue – system executed unsubscribe –
    notify merchant". [?] No invoice reaches supervision (the suite records none), so a legacy order here is
    one not invoiced: it is unsubscribed. The refund is the orders service's (supervision.overdue asks it; its
    refund.decided ends the service order as refunded, refunds.py); meanwhile the flow is stopped, as after
    an appeal resolved with a refund, and the merchant is told."""
    so.log.record(now, PartyRole.SYSTEM, None, "auto_unsubscribe", node, None, LEGACY_REASON)
    events = so.clocks.clear_all("cancelled", now, corr)
    if so.open_appeal is not None:  # nothing is left to resolve: the order is being unsubscribed
        so.appeals.append(
            so.open_appeal.model_copy(update={"outcome": AppealOutcome.REFUND, "resolved_at": now})
        )
        so.open_appeal = None
    so.status = Status.REFUNDING
    overdue = SupervisionOverduePayload(**so.about(), overdue_at=now, reason=LEGACY_REASON)
    return [
        *events,
        SupervisionOverdue(**so.envelope(corr), payload=overdue),
        notices.auto_unsubscribed(so, now, corr),
    ]
