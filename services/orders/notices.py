"""The notices the orders service asks notification to send about facts its own flows decided
(notice.requested, dossier §6.3): an unsubscribe requested or decided, a return left unreviewed, a
settlement statement's step. Pure: each is an event the use case writes to the outbox with the state
change. `notice_id` is the fact's stable key, so a fact told twice (a rerun, a redelivery) is one notice."""

from __future__ import annotations

from services.orders.domain import PRODUCER, Order
from services.orders.progress import RefundRequest
from shared.schemas import AccountRole, NoticeKind, NoticeRecipient, NoticeRequested, NoticeRequestedPayload


def about_order(
    order: Order,
    kind: NoticeKind,
    notice_id: str,
    to: AccountRole,
    params: dict[str, str],
    correlation_id: str,
) -> NoticeRequested:
    """A notice about `order` to its buyer or its merchant, keyed by the order like its other events."""
    account = order.buyer_account_id if to is AccountRole.BUYER else order.merchant_account_id
    return NoticeRequested(
        **order.envelope(correlation_id),
        payload=NoticeRequestedPayload(
            notice_id=notice_id,
            kind=kind,
            recipients=[NoticeRecipient(role=to, account_id=account)],
            subject_id=order.order_id,
            params=params,
            parties=order.parties,
        ),
    )


def refund_params(order: Order, refund: RefundRequest) -> dict[str, str]:
    return {
        "order_id": order.order_id,
        "refund_id": refund.refund_id,
        "product_name": order.product.name,
        "amount": str(refund.amount),
        "currency": order.currency,
    }


def unsubscribe_requested(order: Order, refund: RefundRequest, correlation_id: str) -> NoticeRequested:
    """To the merchant: the buyer asks for a negotiated unsubscribe it must review (dossier §1.4, §6.3)."""
    params = refund_params(order, refund) | {"reason": refund.reason}
    if refund.review_by is not None:
        params["review_by"] = refund.review_by.isoformat()
    return about_order(
        order,
        NoticeKind.UNSUBSCRIBE_REQUESTED,
        f"unsubscribe:{refund.refund_id}:requested",
        AccountRole.MERCHANT,
        params,
        correlation_id,
    )


def unsubscribe_decided(
    order: Order, refund: RefundRequest, approved: bool, decided_by: str, correlation_id: str
) -> NoticeRequested:
    """To the buyer: its unsubscribe was agreed (and refunded) or rejected, with the opinion (dossier
    §1.4)."""
    params = refund_params(order, refund) | {
        "outcome": "agreed" if approved else "rejected",
        "opinion": refund.opinion,
        "decided_by": decided_by,
    }
    return about_order(
        order,
        NoticeKind.UNSUBSCRIBE_DECIDED,
        f"unsubscribe:{refund.refund_id}:decided",
        AccountRole.BUYER,
        params,
        correlation_id,
    )


def return_review_overdue(order: Order, refund: RefundRequest, correlation_id: str) -> NoticeRequested:
    """To the buyer: the merchant did not review its hardware unsubscribe within 7 working days, so it may
    contact the merchant (dossier §1.4)."""
    params = refund_params(order, refund) | {
        "merchant_account_id": order.merchant_account_id,
        "review_by": refund.review_by.isoformat() if refund.review_by else "",
    }
    return about_order(
        order,
        NoticeKind.RETURN_REVIEW_OVERDUE,
        f"unsubscribe:{refund.refund_id}:review_overdue",
        AccountRole.BUYER,
        params,
        correlation_id,
    )


__all__ = ["PRODUCER", "about_order", "return_review_overdue", "unsubscribe_decided", "unsubscribe_requested"]
