"""Appeals (申诉, dossier §5) and negotiated refunds in the guarantee period (交易担保期, dossier §1.4)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from services.supervision.flows import AppealPolicy
from services.supervision.records import Appeal, Refund, RefundStatus
from services.supervision.rules import Policy
from shared.platform.errors import DomainError, Forbidden, InvalidInput, NotFound
from shared.schemas import (
    AppealOutcome,
    AppealRaised,
    AppealRaisedPayload,
    AppealResolved,
    AppealResolvedPayload,
    DeadlineKind,
    Event,
    PartyRole,
    RefundDecided,
    RefundDecidedPayload,
)

if TYPE_CHECKING:
    from services.supervision.domain import ServiceOrder


class CodeClaimed(DomainError):
    code = "code_claimed"


def raise_appeal(so: ServiceOrder, account_id: str, reason: str, demands: str, attachments: list[str],
                 now: datetime, corr: str, policy: Policy) -> list[Event]:
    """Buyer or merchant, at any node, any time (dossier §5.1); the flow freezes until the operator resolves
    it, every running clock pauses, and the operator's 3-working-day SLA starts (§5.3)."""
    from services.supervision.domain import Status

    role = so.role_of(account_id)
    so._guard_operable()
    assert so.node is not None
    node = so.template.node(so.node)
    if so.template.appeal_policy is AppealPolicy.THRESHOLDS:
        # Dossier §2.4 (hardware): an appeal once the other side stalled for more than 5 days, or after more
        # than 3 rejections.
        other_stalled = so.idle_expired and node.actor is not role
        if not other_stalled and so.rejections <= policy.max_rejections:
            raise DomainError(f"an appeal on this {so.template.delivery_type.value} order is possible once the "
                              f"other party has been idle for more than {policy.idle.days} days or after more "
                              f"than {policy.max_rejections} rejections ({so.rejections} so far; dossier §2.4)")
    if role is PartyRole.MERCHANT and node.actor is PartyRole.BUYER and node.key == "accept" and not attachments:
        # Dossier §5.1/§5.2: a merchant appealing because the buyer never accepts uploads the delivery proof.
        raise InvalidInput("a merchant's appeal while the buyer has not accepted must attach the delivery proof",
                           field="attachments")
    appeal = Appeal(appeal_id=f"AP-{uuid.uuid4().hex[:12]}", raised_by_role=role, raised_by_account_id=account_id,
                    node=so.node, reason=reason, demands=demands, attachments=attachments, raised_at=now,
                    respond_by=policy.appeal_due(now))
    assert appeal.respond_by is not None
    so.open_appeal, so.status = appeal, Status.FROZEN
    so._record(now, role, account_id, "appeal", so.node, so.node, reason,
               details={"appeal_id": appeal.appeal_id, "demands": demands, "attachments": attachments,
                        "respond_by": appeal.respond_by.isoformat()})
    raised = AppealRaised(**so._env(corr), payload=AppealRaisedPayload(
        appeal_id=appeal.appeal_id, service_order_id=so.service_order_id, order_id=so.order_id,
        raised_by_role=role, raised_by_account_id=account_id, node=so.node, reason=reason, demands=demands,
        attachments=attachments, parties=so.parties, raised_at=now, respond_by=appeal.respond_by))
    paused = so.pause_deadlines(now, corr)
    sla = so._schedule(DeadlineKind.APPEAL_SLA, PartyRole.OPERATOR, appeal.respond_by, corr, node=None)
    return [raised, *paused, sla]


def resolve_appeal(so: ServiceOrder, account_id: str, appeal_id: str, outcome: AppealOutcome, now: datetime,
                   corr: str, *, operator: bool, node: str | None, note: str, policy: Policy) -> list[Event]:
    """The platform operator's decision (dossier §5.3, §2.7): back to a node (by default the one the appeal froze,
    its paused clocks resuming with the time they had left), completed, or refunded in full."""
    from services.supervision.domain import Status

    if not operator:
        raise Forbidden("only a platform operator resolves appeals (dossier §5.3)", rule="operators_resolve_appeals")
    appeal = so.open_appeal
    if appeal is None or appeal.appeal_id != appeal_id:
        raise NotFound(f"appeal {appeal_id} is not open on service order {so.service_order_id}")
    target = node or appeal.node
    if outcome is AppealOutcome.RESUME and target not in so.template.nodes:
        raise InvalidInput(f"node {target!r} is not in this flow; nodes: {', '.join(so.template.nodes)}",
                           field="node")
    appeal.outcome, appeal.resolved_at, appeal.resolved_by_account_id = outcome, now, account_id
    so.appeals.append(appeal)
    so.open_appeal, so.status = None, Status.ACTIVE
    so._record(now, PartyRole.OPERATOR, account_id, f"appeal_{outcome.value}", appeal.node,
               target if outcome is AppealOutcome.RESUME else None, note,
               details={"appeal_id": appeal_id, "outcome": outcome.value})
    events = so._clear(lambda d: d.kind is DeadlineKind.APPEAL_SLA, "acted", now, corr)
    resolved = AppealResolved(**so._env(corr), payload=AppealResolvedPayload(
        appeal_id=appeal_id, service_order_id=so.service_order_id, order_id=so.order_id, outcome=outcome,
        resumed_node=target if outcome is AppealOutcome.RESUME else None, resolved_by_account_id=account_id,
        note=note, parties=so.parties, resolved_at=now))
    if outcome is AppealOutcome.COMPLETE:
        return [*events, resolved, *so._complete(PartyRole.OPERATOR, now, corr)]
    if outcome is AppealOutcome.REFUND:
        return [*events, resolved, *so.refunded(f"RF-{appeal_id}", so.amount, appeal.reason, note,
                                                PartyRole.OPERATOR, account_id, now, corr)]
    if target == appeal.node:
        return [*events, resolved, *so.resume_deadlines(now, corr)]
    events += so._clear(lambda d: d.paused_remaining is not None, "cancelled", now, corr)
    return [*events, resolved, *so._enter(target, now, corr, policy)]


def request_refund(so: ServiceOrder, account_id: str, refund_id: str, amount: Decimal, reason: str,
                   now: datetime) -> bool:
    """The buyer asks for a negotiated refund (dossier §1.4): only in the guarantee period (before supervision
    completes), at most the paid amount, one at a time, and never for License 2.0 once the code is claimed.
    False when this refund request is already on record (a redelivered request)."""
    from services.supervision.domain import Status

    if any(r.refund_id == refund_id for r in so.refunds):
        return False
    if so.role_of(account_id) is not PartyRole.BUYER:
        raise Forbidden("only the buyer requests a refund (dossier §1.4)", rule="buyer_requests_refund")
    if so.status in (Status.COMPLETED, Status.REFUNDED):
        raise DomainError(f"service order {so.service_order_id} is {so.status.value}: the guarantee period is "
                          f"over, and no refund is possible outside it (dossier §1.4)")
    so._guard_operable()
    if so.code_claimed_at is not None:
        raise CodeClaimed("the authorization code has been claimed: a License 2.0 order can no longer be "
                          "refunded by negotiation (dossier §1.4)")
    if not Decimal(0) < amount <= so.amount:
        raise InvalidInput(f"the refund amount must be more than 0 and at most the paid {so.amount}", field="amount")
    if any(r.status is RefundStatus.REQUESTED for r in so.refunds):
        raise DomainError("a refund request is already waiting for the merchant's decision")
    so.refunds.append(Refund(refund_id=refund_id, amount=amount, reason=reason, requested_at=now))
    so._record(now, PartyRole.BUYER, account_id, "refund_requested", so.node or "", so.node, reason,
               details={"refund_id": refund_id, "amount": str(amount)})
    return True


def decide_refund(so: ServiceOrder, account_id: str, refund_id: str, approve: bool, opinion: str, now: datetime,
                  corr: str) -> list[Event]:
    """The merchant agrees (the order is refunded) or rejects with an opinion (dossier §1.4)."""
    if so.role_of(account_id) is not PartyRole.MERCHANT:
        raise Forbidden("only the merchant decides on a refund request (dossier §1.4)", rule="merchant_decides_refund")
    refund = next((r for r in so.refunds if r.refund_id == refund_id), None)
    if refund is None:
        raise NotFound(f"refund {refund_id} does not exist on service order {so.service_order_id}")
    if refund.status is not RefundStatus.REQUESTED:
        raise DomainError(f"refund {refund_id} was already {refund.status.value}")
    so._guard_operable()
    refund.status = RefundStatus.APPROVED if approve else RefundStatus.REJECTED
    refund.opinion, refund.decided_at = opinion, now
    so._record(now, PartyRole.MERCHANT, account_id, f"refund_{refund.status.value}", so.node or "", None if approve
               else so.node, opinion, details={"refund_id": refund_id, "amount": str(refund.amount)})
    if approve:
        return so.refunded(refund_id, refund.amount, refund.reason, opinion, PartyRole.MERCHANT, account_id, now,
                           corr)
    return [RefundDecided(**so._env(corr), payload=RefundDecidedPayload(
        refund_id=refund_id, order_id=so.order_id, service_order_id=so.service_order_id, approved=False,
        amount=refund.amount, currency=so.currency, reason=refund.reason, opinion=opinion,
        decided_by_role=PartyRole.MERCHANT, decided_by_account_id=account_id, parties=so.parties,
        decided_at=now))]
