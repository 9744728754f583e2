"""Refunds (退订/退款). The orders service is their one owner: the buyer's request, the merchant's decision,
an appeal resolved with a refund, the platform's own refunds, and the money. Every decided refund travels as
refund.decided (supervision stops the service order's clocks, partner reverses the provider's earning,
notification tells the parties). Pure.

Where each rule comes from (domain/koogallery.md):
- §1.4: a supervised order is refunded only by negotiation, in the transaction guarantee period (交易担保期:
  paid, and its service order not accepted yet); the buyer asks for an amount with a reason, the merchant
  agrees or rejects with an opinion. License 2.0: no negotiated refund once the buyer claimed the
  authorization code.
- §1.4: an unsupervised order gets the 5-day no-reason full refund within the yearly quota (progress.py).
- §5.3: while an appeal is open the flow is frozen, neither party can operate; the platform operator's
  resolution may refund the order in full.
- §8.2.2: a SaaS new purchase whose provisioning finally failed is refunded by the platform.
Orders learns the guarantee period and the freeze from supervision's events (acceptance.done, appeal.raised,
appeal.resolved, milestone.confirmed: progress.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from services.orders.domain import Order
from services.orders.progress import AgreedRecord, GoodsReturn, RefundRequest, self_service_refund_allowed
from shared.platform.errors import DomainError, Forbidden, InvalidInput, NotFound
from shared.schemas import (
    AppealOutcome,
    DeliveryType,
    Event,
    OrderStatus,
    PartyRole,
    RefundDecided,
    RefundDecidedPayload,
    RefundRequested,
    RefundRequestedPayload,
)
from shared.workdays import WorkdayCalendar

# License 2.0 (§2.2.a): the buyer claims the code at node claim_code; activation is the node after it. Either
# one confirmed (milestone.confirmed) means the code was claimed. [I] Supervision confirms activation with a
# milestone; claim_code is named too, for when it confirms the claim itself.
CODE_CLAIMED_NODES = frozenset({"claim_code", "activation"})


class Frozen(DomainError):
    code = "frozen_by_appeal"


class CodeClaimed(DomainError):
    code = "code_claimed"


# Hardware unsubscribes (dossier §1.4 [R89]): a merchant that does not review within 7 working days lets the
# buyer contact it.
REVIEW_WORKDAYS = 7


def open_review(
    refund: RefundRequest, now: datetime, calendar: WorkdayCalendar, return_goods: bool
) -> RefundRequest:
    """A hardware unsubscribe: the merchant's review is due in 7 working days (Chinese statutory calendar);
    goods the buyer received wait to be shipped back (returns.py)."""
    review_by = calendar.add_workdays(now, REVIEW_WORKDAYS)
    goods = GoodsReturn() if return_goods else None
    return refund.model_copy(
        update={"review_by": review_by, "next_clock_at": review_by, "goods_return": goods}
    )


def asked_amount_invalid(amount: Decimal | None) -> bool:
    return amount is not None and amount <= 0


def in_guarantee_period(order: Order) -> bool:
    """§1.4: a supervised order from its payment until its service order is accepted (acceptance.done)."""
    return order.supervised and order.status is OrderStatus.PROCESSING and order.progress.accepted_at is None


def not_frozen(order: Order, what: str) -> None:
    """§5.3: while an appeal is open the flow is frozen, and no refund moves until the operator resolves
    it."""
    appeal = order.progress.appeal
    if appeal is not None:
        raise Frozen(
            f"order {order.order_id} is frozen by appeal {appeal.appeal_id} until the platform operator "
            f"resolves it: no {what} meanwhile (dossier §5.3)",
            field="order_id",
        )


def negotiable(order: Order) -> None:
    """§1.4: a negotiated refund only in the guarantee period, and for License 2.0 only before the code is
    claimed."""
    if not in_guarantee_period(order):
        raise DomainError(
            f"order {order.order_id} is {order.status.value}: a negotiated unsubscribe is only "
            "possible in the transaction guarantee period, before supervision completes; no full "
            "refund outside it (dossier §1.4)",
            field="status",
        )
    claimed = CODE_CLAIMED_NODES & set(order.progress.confirmed_nodes)
    if order.product.delivery_type is DeliveryType.LICENSE_CODE and claimed:
        raise CodeClaimed(
            "the authorization code has been claimed: a License 2.0 order can no longer be "
            "refunded by negotiation (dossier §1.4)",
            field="order_id",
        )


def request_refund(
    order: Order,
    buyer: str,
    amount: Decimal | None,
    reason: str,
    now: datetime,
    refunds_used_this_year: int,
    correlation_id: str,
    calendar: WorkdayCalendar | None = None,
    return_goods: bool = False,
) -> list[Event]:
    """The buyer's unsubscribe. Supervised: a negotiated refund the merchant decides (refund.requested and a
    notice tell it). Unsupervised: the 5-day no-reason full refund within the yearly quota, refunded at once,
    else none (§1.4). Hardware: the merchant's review clock starts, and goods the buyer received are sent back
    first (`return_goods`, returns.py)."""
    order.owned_by(buyer)
    hardware = order.product.delivery_type is DeliveryType.HARDWARE
    if return_goods and not hardware:
        raise InvalidInput("only hardware goods are returned (dossier §1.4)", field="return_goods")
    if asked_amount_invalid(amount):
        raise InvalidInput("the refund asked for must be more than 0", field="amount")
    if order.refund is not None and order.refund.state == "requested":
        raise DomainError(
            f"an unsubscribe of order {order.order_id} is already waiting for the merchant", field="order_id"
        )
    not_frozen(order, "refund request")
    asked = amount if amount is not None else order.amount
    if asked > order.amount:
        raise InvalidInput(f"the refund {asked} exceeds the amount paid {order.amount}", field="amount")
    refund = RefundRequest(
        refund_id=f"RF-{uuid.uuid4().hex[:12]}", amount=asked, reason=reason, requested_at=now
    )
    if order.supervised:
        negotiable(order)
        if hardware:
            refund = open_review(refund, now, calendar or WorkdayCalendar(), return_goods)
        order.refund = refund
        return [
            RefundRequested(
                **order.envelope(correlation_id),
                payload=RefundRequestedPayload(
                    refund_id=refund.refund_id,
                    order_id=order.order_id,
                    amount=asked,
                    reason=reason,
                    parties=order.parties,
                    requested_at=now,
                ),
            ),
            # refund.requested tells the merchant (notification's catalogue): no notice of its own.
        ]
    if order.status is not OrderStatus.COMPLETED or order.paid_at is None:
        raise DomainError(
            f"order {order.order_id} is {order.status.value}; only a paid order can be unsubscribed",
            field="status",
        )
    self_service_refund_allowed(order.paid_at, now, refunds_used_this_year)
    # The no-reason refund is always the full amount (§1.4 "5-day no-reason full refund").
    order.refund = refund.model_copy(update={"amount": order.amount})
    return refund_by_platform(order, now, "5-day no-reason full refund (dossier §1.4)", correlation_id)


def decide_refund(
    order: Order,
    merchant: str,
    refund_id: str,
    approve: bool,
    opinion: str,
    now: datetime,
    correlation_id: str,
    record: AgreedRecord | None = None,
) -> list[Event]:
    """§1.4: the order's merchant agrees (同意: the order is refunded), attaching the agreed record, or
    rejects (驳回) with its reason; refund.decided either way, and the buyer is told. [I] A rejection may
    close a request whenever; an approval only in the guarantee period. Hardware goods sent back are agreed
    to by confirming them (returns.py), not here."""
    if merchant != order.merchant_account_id:
        raise Forbidden(
            f"only the merchant of order {order.order_id} decides its refunds (dossier §1.4)",
            rule="merchant_decides_refund",
        )
    refund = pending(order, refund_id)
    not_frozen(order, "refund decision")
    if approve and refund.goods_return is not None:
        raise DomainError(
            f"refund {refund_id} returns hardware goods: it is agreed by confirming the returned goods "
            "(POST /orders/{order_id}/refunds/{refund_id}/return, dossier §1.4)",
            field="refund_id",
        )
    if approve and record is None:
        raise InvalidInput(
            "agreeing to an unsubscribe needs the agreed record: an evidence file or a document "
            "reference (dossier §1.4)",
            field="agreed_record",
        )
    if not approve and not opinion.strip():
        raise InvalidInput("rejecting an unsubscribe needs its reason (dossier §1.4)", field="opinion")
    return conclude(order, approve, opinion, now, correlation_id, PartyRole.MERCHANT, merchant, record)


def pending(order: Order, refund_id: str) -> RefundRequest:
    """The order's refund `refund_id`, still waiting for its decision."""
    refund = order.refund
    if refund is None or refund.refund_id != refund_id:
        raise NotFound(f"refund {refund_id} does not exist on order {order.order_id}", field="refund_id")
    if refund.state != "requested":
        raise DomainError(f"refund {refund_id} was already {refund.state}", field="refund_id")
    return refund


def conclude(
    order: Order,
    approve: bool,
    opinion: str,
    now: datetime,
    correlation_id: str,
    role: PartyRole,
    account: str | None,
    record: AgreedRecord | None = None,
) -> list[Event]:
    """The decision of the order's pending refund, whoever takes it (the merchant, or the system accepting
    returned goods): agreed → the order is refunded (the asked amount); rejected → the request ends.
    refund.decided and the buyer's notice either way; its clocks stop."""
    refund = order.refund
    if refund is None or refund.state != "requested":
        raise DomainError(f"order {order.order_id} has no refund waiting for a decision", field="refund_id")
    not_frozen(order, "refund decision")
    if approve:
        negotiable(order)
    outcome = decided(
        order,
        refund.refund_id,
        refund.amount,
        refund.reason,
        now,
        correlation_id,
        approved=approve,
        opinion=opinion,
        role=role,
        account=account,
    )
    closed = {"opinion": opinion, "agreed_record": record, "next_clock_at": None}
    if not approve:
        order.refund = refund.model_copy(update=closed | {"state": "rejected", "decided_at": now})
        return [outcome]  # refund.decided tells the buyer (notification's catalogue)
    order.refund = refund.model_copy(update=closed)
    why = f"refund {refund.refund_id} approved by the {role.value}: {refund.reason}"
    moved = order.refunded(now, why, correlation_id)
    assert order.refund is not None
    return [*moved, outcome]


def appeal_resolved(
    order: Order,
    service_order_id: str,
    appeal_id: str,
    outcome: AppealOutcome,
    operator: str,
    note: str,
    now: datetime,
    correlation_id: str,
) -> list[Event]:
    """§5.3: the operator resolved the appeal, so the order is operable again; with the outcome "refund" it is
    refunded in full, once (an order refunded already changes nothing and publishes nothing)."""
    appeal = order.progress.appeal
    reason = appeal.reason if appeal is not None and appeal.appeal_id == appeal_id else f"appeal {appeal_id}"
    order.progress = order.progress.appeal_resolved(service_order_id, appeal_id)
    if outcome is not AppealOutcome.REFUND or order.status is OrderStatus.REFUNDED:
        return []
    why = f"appeal {appeal_id} resolved by the platform operator with a refund (dossier §5.3)"
    return [
        *order.refunded(now, why, correlation_id),
        decided(
            order,
            f"RF-{appeal_id}",
            order.amount,
            reason,
            now,
            correlation_id,
            opinion=note,
            role=PartyRole.OPERATOR,
            account=operator,
        ),
    ]


def refund_by_platform(order: Order, now: datetime, reason: str, correlation_id: str) -> list[Event]:
    """A refund the platform decides on its own (the 5-day no-reason refund, a provisioning given up, §8.2.2):
    the status change and refund.decided, as after a merchant's approval. Once: nothing when refunded
    already."""
    if order.status is OrderStatus.REFUNDED:
        return []
    refund_id = order.refund.refund_id if order.refund is not None else f"RF-{order.order_id}"
    return [
        *order.refunded(now, reason, correlation_id),
        decided(order, refund_id, order.amount, reason, now, correlation_id),
    ]


def decided(
    order: Order,
    refund_id: str,
    amount: Decimal,
    reason: str,
    now: datetime,
    correlation_id: str,
    *,
    approved: bool = True,
    opinion: str = "",
    role: PartyRole = PartyRole.SYSTEM,
    account: str | None = None,
) -> RefundDecided:
    """refund.decided: the one event every refund decision travels as."""
    return RefundDecided(
        **order.envelope(correlation_id),
        payload=RefundDecidedPayload(
            refund_id=refund_id,
            order_id=order.order_id,
            approved=approved,
            amount=amount,
            service_order_id=order.progress.service_order_id,
            currency=order.currency,
            reason=reason,
            opinion=opinion,
            decided_by_role=role,
            decided_by_account_id=account,
            parties=order.parties,
            decided_at=now,
        ),
    )
