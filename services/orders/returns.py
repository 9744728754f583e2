"""Hardware returns and the clocks of a hardware unsubscribe (退货, dossier §1.4). Pure.

- The buyer who received the goods asks to unsubscribe with `return_goods` and ships them back; they are then
  待验收 pending acceptance. The merchant confirms them (the unsubscribe is agreed: the asked amount is
  refunded) or reports an exception (the unsubscribe is rejected with it) within 15 days; otherwise the system
  accepts them and executes the unsubscribe. [I] The page behind this rule [R88] sits in the Unsubscribe
  Management topic and does not say whose acceptance it is; the dossier (§1.4, and §3.6's table: "Unsubscribe
  待验收 + 15 days → auto acceptance → unsubscribe executed") reads it as the merchant accepting returned
  goods before the refund, which is what is built here. [I] An exception ends the request: the buyer may ask
  again or appeal (§5).
- A merchant that does not review a hardware unsubscribe within 7 working days (Chinese statutory calendar,
  shared/workdays) lets the buyer contact it [R89]: the buyer is told (return_review_overdue) and the request
  shows `buyer_may_contact_merchant`. Reviewing is deciding it: rejecting it, or confirming the goods.

Each request keeps `next_clock_at`, the earliest of its open clocks; the return-clock worker (clocks.py) runs
`on_clock` for the orders whose clock has come. A clock that fired is closed on the request in the same
write, so running it again changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.orders import notices, refunds
from services.orders.domain import Order
from services.orders.progress import AgreedRecord, GoodsReturn, RefundRequest
from shared.platform.errors import DomainError, Forbidden, InvalidInput
from shared.schemas import Event, PartyRole

RETURN_ACCEPTANCE_DAYS = 15  # dossier §1.4 [R88], §3.6
FROZEN_RETRY = timedelta(days=1)  # [I] a clock that comes while an appeal freezes the order looks again later


def ship(order: Order, buyer: str, refund_id: str, carrier: str, tracking_no: str, now: datetime) -> None:
    """The buyer shipped the goods back: they are pending acceptance (待验收) for 15 days."""
    order.owned_by(buyer)
    refund = refunds.pending(order, refund_id)
    goods = _goods(refund, "awaiting_shipment", "shipped back")
    accept_by = now + timedelta(days=RETURN_ACCEPTANCE_DAYS)
    shipped = goods.model_copy(
        update={
            "state": "pending_acceptance",
            "carrier": carrier,
            "tracking_no": tracking_no,
            "shipped_at": now,
            "accept_by": accept_by,
        }
    )
    order.refund = refund.model_copy(update={"goods_return": shipped})
    order.refund = order.refund.model_copy(update={"next_clock_at": next_clock(order.refund)})


def accept(
    order: Order, merchant: str, refund_id: str, accepted: bool, note: str, now: datetime, correlation_id: str
) -> list[Event]:
    """The merchant confirms the returned goods (the unsubscribe is executed) or reports an exception (the
    unsubscribe is rejected with it), dossier §1.4."""
    if merchant != order.merchant_account_id:
        raise Forbidden(
            f"only the merchant of order {order.order_id} accepts its returned goods (dossier §1.4)",
            rule="merchant_decides_refund",
        )
    refund = refunds.pending(order, refund_id)
    if not accepted and not note.strip():
        raise InvalidInput("an acceptance exception needs its description (dossier §1.4)", field="note")
    return _decide(order, refund, accepted, note, now, correlation_id, PartyRole.MERCHANT, merchant)


def on_clock(order: Order, now: datetime, correlation_id: str) -> list[Event]:
    """The clocks of the order's hardware unsubscribe that have come: 15 days pending acceptance → the system
    accepts the goods and executes the unsubscribe; 7 working days unreviewed → the buyer may contact the
    merchant. Nothing when none has come or the request is decided (a clock fires once)."""
    refund = order.refund
    if refund is None or refund.state != "requested" or refund.next_clock_at is None:
        return []
    if order.progress.appeal is not None:  # §5.3: frozen, nothing moves until the operator resolves it
        order.refund = refund.model_copy(update={"next_clock_at": now + FROZEN_RETRY})
        return []
    events: list[Event] = []
    if refund.review_by is not None and refund.review_overdue_at is None and now >= refund.review_by:
        refund = refund.model_copy(update={"review_overdue_at": now})
        order.refund = refund
        events.append(notices.return_review_overdue(order, refund, correlation_id))
    goods = refund.goods_return
    if (
        goods is not None
        and goods.state == "pending_acceptance"
        and goods.accept_by
        and now >= goods.accept_by
    ):
        if not refunds.in_guarantee_period(order):
            # [I] Supervision completed meanwhile: no negotiated refund outside the guarantee period (§1.4),
            # so the system does not execute it; the clock closes and the parties settle it (or appeal, §5).
            closed = goods.model_copy(update={"accept_by": None, "note": "guarantee period over"})
            refund = refund.model_copy(update={"goods_return": closed})
            order.refund = refund.model_copy(update={"next_clock_at": next_clock(refund)})
            return events
        why = f"not accepted within {RETURN_ACCEPTANCE_DAYS} days: accepted by the system (dossier §1.4)"
        return [*events, *_decide(order, refund, True, why, now, correlation_id, PartyRole.SYSTEM, None)]
    order.refund = refund.model_copy(update={"next_clock_at": next_clock(refund)})
    return events


def next_clock(refund: RefundRequest) -> datetime | None:
    """The earliest clock still open on a pending request."""
    if refund.state != "requested":
        return None
    open_clocks = []
    if refund.review_by is not None and refund.review_overdue_at is None:
        open_clocks.append(refund.review_by)
    goods = refund.goods_return
    if goods is not None and goods.state == "pending_acceptance" and goods.accept_by is not None:
        open_clocks.append(goods.accept_by)
    return min(open_clocks, default=None)


def _goods(refund: RefundRequest, expected: str, what: str) -> GoodsReturn:
    goods = refund.goods_return
    if goods is None:
        raise DomainError(f"refund {refund.refund_id} returns no goods", field="refund_id")
    if goods.state != expected:
        raise DomainError(
            f"the goods of refund {refund.refund_id} are {goods.state}; they cannot be {what} now",
            field="refund_id",
        )
    return goods


def _decide(
    order: Order,
    refund: RefundRequest,
    accepted: bool,
    note: str,
    now: datetime,
    correlation_id: str,
    role: PartyRole,
    account: str | None,
) -> list[Event]:
    goods = _goods(refund, "pending_acceptance", "accepted")
    closed = goods.model_copy(
        update={
            "state": "accepted" if accepted else "exception",
            "decided_at": now,
            "decided_by_system": role is PartyRole.SYSTEM,
            "note": note,
        }
    )
    order.refund = refund.model_copy(update={"goods_return": closed})
    record = AgreedRecord(kind="returned_goods", ref=goods.tracking_no or refund.refund_id)
    return refunds.conclude(
        order, accepted, note, now, correlation_id, role, account, record if accepted else None
    )
