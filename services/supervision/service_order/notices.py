"""What supervision asks notification to tell people (notice.requested, dossier §6.3): facts its own clocks
decided, written to the outbox with the state change that caused them. Each `notice_id` is the fact's stable
key, so a fact told twice is one notice.

Who is told:
- an escalated appeal (§5.3): every operator (the group) and both parties;
- the 180-day reminder (§1.5): the merchant and the buyer's account manager (BD). The orders carry no account
  manager (order.paid names the buyer, the merchant and a provider only), so the reminder goes to the
  operators' group in the BD's place, as the marketplace's operations stand for the BD until one is known;
- a legacy order unsubscribed by the system at 365 days (§1.5, §6.3): the merchant.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.supervision.service_order.records import Appeal
from services.supervision.service_order.state import ServiceOrderState
from shared.schemas import AccountRole, NoticeKind, NoticeRecipient, NoticeRequested, NoticeRequestedPayload

OPERATORS = NoticeRecipient(role=AccountRole.OPERATOR)  # every operator


def _notice(
    so: ServiceOrderState,
    notice_id: str,
    kind: NoticeKind,
    recipients: list[NoticeRecipient],
    corr: str,
    **params: str,
) -> NoticeRequested:
    payload = NoticeRequestedPayload(
        notice_id=notice_id,
        kind=kind,
        recipients=recipients,
        subject_id=so.service_order_id,
        params={
            "service_order_id": so.service_order_id,
            "order_id": so.order_id,
            "product_name": so.product.name,
            "product": so.product.name,  # the name the texts show (notification's NOTICE_PARAMS)
            **params,
        },
        parties=so.parties,
    )
    return NoticeRequested(**so.envelope(corr), payload=payload)


def _at(at: datetime) -> str:
    """An instant for a template, in UTC (notification shows it in the reader's time zone)."""
    return at.astimezone(UTC).isoformat()


def _shown(at: datetime) -> str:
    """An instant as the texts show it (`due`)."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _buyer(so: ServiceOrderState) -> NoticeRecipient:
    return NoticeRecipient(role=AccountRole.BUYER, account_id=so.parties.buyer_account_id)


def _merchant(so: ServiceOrderState) -> NoticeRecipient:
    return NoticeRecipient(role=AccountRole.MERCHANT, account_id=so.parties.merchant_account_id)


def appeal_escalated(so: ServiceOrderState, appeal: Appeal, now: datetime, corr: str) -> NoticeRequested:
    """Dossier §5.3: the operator did not resolve the appeal within its 3 working days."""
    return _notice(
        so,
        f"appeal:{appeal.appeal_id}:escalated",
        NoticeKind.APPEAL_ESCALATED,
        [OPERATORS, _buyer(so), _merchant(so)],
        corr,
        appeal_id=appeal.appeal_id,
        node=appeal.node,
        due=_shown(appeal.respond_by or now),
        raised_by=appeal.raised_by_role.value,
        reason=appeal.reason,
        raised_at=_at(appeal.raised_at),
        due_at=_at(appeal.respond_by or now),
        escalated_at=_at(now),
        assignee=appeal.assignee_account_id or "",
    )


def long_running(so: ServiceOrderState, now: datetime, corr: str) -> NoticeRequested:
    """Dossier §1.5: 180 days after payment and still not accepted; the system no longer closes the order, it
    reminds the merchant and the buyer's account manager (the operators' group here, see the docstring)."""
    return _notice(
        so,
        f"service_order:{so.service_order_id}:long_running",
        NoticeKind.LONG_RUNNING_REMINDER,
        [_merchant(so), OPERATORS],
        corr,
        node=so.node or so.status.value,
        days=str((now - so.created_at).days),
        since=_at(so.created_at),
        reminded_at=_at(now),
    )


def auto_unsubscribed(so: ServiceOrderState, now: datetime, corr: str) -> NoticeRequested:
    """Dossier §1.5/§6.3: "supervision overdue – system executed unsubscribe – notify merchant" (legacy)."""
    return _notice(
        so,
        f"service_order:{so.service_order_id}:auto_unsubscribed",
        NoticeKind.SUPERVISION_AUTO_UNSUBSCRIBED,
        [_merchant(so)],
        corr,
        amount=str(so.amount),
        currency=so.currency,
        reason="not accepted within 365 days of payment (legacy rule, dossier §1.5)",
        since=_at(so.created_at),
        unsubscribed_at=_at(now),
    )
