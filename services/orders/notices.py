"""The notices the orders service's own flows decide (dossier §6.3: renewals, reminders, invoice requests,
listing reviews, unsubscribes and returns): a `notice.requested` for notification to tell, written to the
outbox in the same transaction as the fact. Pure.

Each notice's id is the stable key of its fact (the same fact told twice is one notice); `params` are what the
message type's template may show, all strings.
"""

from __future__ import annotations

from datetime import datetime

from services.orders.catalogue import Product
from services.orders.domain import PRODUCER, Order
from services.orders.progress import RefundRequest
from shared.schemas import AccountRole, NoticeKind, NoticeRecipient, NoticeRequested, NoticeRequestedPayload
from shared.workdays import BEIJING


def _beijing(at: datetime) -> str:
    return at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def _merchant(order: Order) -> NoticeRecipient:
    return NoticeRecipient(role=AccountRole.MERCHANT, account_id=order.merchant_account_id)


def _buyer(order: Order) -> NoticeRecipient:
    return NoticeRecipient(role=AccountRole.BUYER, account_id=order.buyer_account_id)


def _order_params(order: Order) -> dict[str, str]:
    return {
        "order_id": order.order_id,
        "product_id": order.product.product_id,
        "product_name": order.product.name,
        "product": order.product.name,
        "amount": str(order.amount),
        "currency": order.currency,
    }


def about_order(
    order: Order,
    notice_id: str,
    kind: NoticeKind,
    recipients: list[NoticeRecipient],
    correlation_id: str,
    **params: str,
) -> NoticeRequested:
    return NoticeRequested(
        **order.envelope(correlation_id),
        payload=NoticeRequestedPayload(
            notice_id=notice_id,
            kind=kind,
            recipients=recipients,
            subject_id=order.order_id,
            params={**_order_params(order), **params},
            parties=order.parties,
        ),
    )


def renewal(order: Order, correlation_id: str) -> NoticeRequested:
    """A renewal order was paid (dossier §6.3 "user renewed a periodic product"): its merchant and buyer."""
    ends = order.validity_ends_at
    return about_order(
        order,
        f"renewal:{order.order_id}:paid",
        NoticeKind.RENEWAL,
        [_merchant(order), _buyer(order)],
        correlation_id,
        original_order_id=order.original_order_id or "",
        valid_until=_beijing(ends) if ends else "",
        expires_at=_beijing(ends) if ends else "",
    )


def order_reminder(order: Order, at: datetime, message: str, correlation_id: str) -> NoticeRequested:
    """The buyer reminds the merchant (催促, dossier §9.2); one notice per reminder (keyed by its minute)."""
    return about_order(
        order,
        f"order_reminder:{order.order_id}:{at:%Y%m%d%H%M}",
        NoticeKind.ORDER_REMINDER,
        [_merchant(order)],
        correlation_id,
        reminded_at=_beijing(at),
        message=message,
    )


def invoice_requested(order: Order, request_id: str, title: str, correlation_id: str) -> NoticeRequested:
    """The buyer asked the merchant for an invoice (dossier §6.3 "general-product invoice request", 901)."""
    return about_order(
        order,
        f"invoice:{request_id}:requested",
        NoticeKind.INVOICE_REQUESTED,
        [_merchant(order)],
        correlation_id,
        invoice_request_id=request_id,
        invoice_title=title,
    )


def expiry_reminder(order: Order, days: int, correlation_id: str) -> NoticeRequested:
    """N days before the validity ends (dossier §6.3): a trial's is the trial → commercial reminder."""
    assert order.validity_ends_at is not None  # only an order with an end is reminded
    kind = NoticeKind.TRIAL_CONVERSION_REMINDER if order.trial_days else NoticeKind.EXPIRY_REMINDER
    return about_order(
        order,
        f"expiry:{order.order_id}:{days}",
        kind,
        [_buyer(order)],
        correlation_id,
        days_left=str(days),
        expires_at=_beijing(order.validity_ends_at),
    )


def listing_review_result(product: Product, correlation_id: str) -> NoticeRequested:
    """The operator listed or rejected a publication (dossier §6.3, §9.1 step 5): its merchant. Keyed by the
    product's version at the review, so each review of a product republished after a rejection is told."""
    return NoticeRequested(
        producer=PRODUCER,
        correlation_id=correlation_id,
        payload=NoticeRequestedPayload(
            notice_id=f"listing_review:{product.product_id}:v{product.version}",
            kind=NoticeKind.LISTING_REVIEW_RESULT,
            recipients=[NoticeRecipient(role=AccountRole.MERCHANT, account_id=product.merchant_account_id)],
            subject_id=product.product_id,
            params={
                "product_id": product.product_id,
                "product_name": product.name,
                "product": product.name,
                "result": "approved" if product.status == "listed" else "rejected",
                "opinion": product.review_note,
            },
        ),
    )


# --- unsubscribes and hardware returns (dossier §1.4) ------------------------------------------------
def _to_party(
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
        "product": order.product.name,
        "amount": str(refund.amount),
        "currency": order.currency,
    }


def return_review_overdue(order: Order, refund: RefundRequest, correlation_id: str) -> NoticeRequested:
    """To the buyer: the merchant did not review its hardware unsubscribe within 7 working days, so it may
    contact the merchant (dossier §1.4)."""
    params = refund_params(order, refund) | {
        "merchant_account_id": order.merchant_account_id,
        "review_by": refund.review_by.isoformat() if refund.review_by else "",
        "due": _beijing(refund.review_by) if refund.review_by else "",
    }
    return _to_party(
        order,
        NoticeKind.RETURN_REVIEW_OVERDUE,
        f"unsubscribe:{refund.refund_id}:review_overdue",
        AccountRole.BUYER,
        params,
        correlation_id,
    )
