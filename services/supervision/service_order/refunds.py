"""Refunds, as supervision sees them. The orders service owns refunds (the buyer's request, the merchant's
decision, an appeal's refund outcome, the money); supervision learns each decision from refund.decided and
keeps it on record. An approved refund ends the service order: the guarantee period is over (dossier §1.4),
every clock stops, and settlement never sees it (§4.3)."""

from __future__ import annotations

from datetime import datetime

from services.supervision.service_order.records import Refund, RefundStatus
from services.supervision.service_order.state import ServiceOrderState, Status
from shared.schemas import AppealOutcome, Event, RefundDecidedPayload


def refund_decided(
    so: ServiceOrderState, decision: RefundDecidedPayload, now: datetime, corr: str
) -> list[Event]:
    """Approved: the service order ends as refunded (dossier §2.7: any node before completion → REFUNDED; an
    appeal resolved with a refund, §5.3, waits as `refunding` until this). Rejected: the flow goes on as it
    was, with the merchant's opinion on record (§1.4). A decision already on record, or an approval for a
    service order already refunded, changes nothing."""
    known = next((r for r in so.refunds if r.refund_id == decision.refund_id), None)
    if known is not None and known.status is not RefundStatus.REQUESTED:
        return []
    if decision.approved and so.status is Status.REFUNDED:
        return []
    status = RefundStatus.APPROVED if decision.approved else RefundStatus.REJECTED
    refund = Refund(
        refund_id=decision.refund_id,
        amount=decision.amount,
        reason=decision.reason,
        requested_at=known.requested_at if known else None,
        status=status,
        opinion=decision.opinion,
        decided_at=decision.decided_at,
    )
    so.refunds = [r for r in so.refunds if r.refund_id != decision.refund_id] + [refund]
    details = {"refund_id": decision.refund_id, "amount": str(decision.amount), "reason": decision.reason}
    role, account = decision.decided_by_role, decision.decided_by_account_id
    if not decision.approved:
        so.log.record(
            now, role, account, "refund_rejected", so.where, so.node, decision.opinion, details=details
        )
        return []
    so.log.record(now, role, account, "refund_approved", so.where, None, decision.opinion, details=details)
    events = so.clocks.clear_all("cancelled", now, corr)
    if so.open_appeal is not None:  # refunded meanwhile (e.g. by the platform): nothing is left to resolve
        so.appeals.append(
            so.open_appeal.model_copy(update={"outcome": AppealOutcome.REFUND, "resolved_at": now})
        )
        so.open_appeal = None
    so.status, so.node = Status.REFUNDED, None
    return events
