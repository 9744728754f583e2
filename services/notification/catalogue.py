"""What each event tells whom: message types, their category, default channels, mandatory or not.

Categories follow the marketplace's message types (dossier §6.3): product creation/activation (101),
supervision, appeal, O&M reminder (501), billing, other (901).

Choices where events overlap (documented so nobody is told twice):
- `order.status_changed` is told only for `cancelled`. `completed` is what `acceptance.done` already says (and
  an unsupervised order completes with its payment, which `order.paid` already announced); `refunded` is what
  an approved `refund.decided` already says; `processing` is the payment itself.
- `deadline.scheduled` / `deadline.cleared` are not catalogue messages: they drive the escalating reminders
  (see reminders.py).
- `merchant_call.failed` reaches the merchant by SMS and e-mail (and in-site), mandatory (dossier §6.3 "O&M
  reminder (501)", §8.2.2: interface-call failures are notified by email, SMS and in-site message).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from services.notification.templates import _TEXTS, Rendered, render
from shared.schemas import AccountRole, Event, OrderStatus

__all__ = [
    "CATALOGUE",
    "CATEGORIES",
    "_TEXTS",
    "Channel",
    "MessageType",
    "Rendered",
    "Rule",
    "render",
    "rules_for",
]


class Channel(StrEnum):
    IN_SITE = "in_site"
    EMAIL = "email"
    SMS = "sms"


ALL_CHANNELS = (Channel.IN_SITE, Channel.EMAIL, Channel.SMS)
# Category key -> the marketplace's code where the dossier names one (§6.3); [I] for the others.
CATEGORIES = {
    "creation_activation": "101",
    "supervision": "supervision",
    "appeal": "appeal",
    "om_reminder": "501",
    "billing": "billing",
    "other": "901",
    "account": "account",
}


@dataclass(frozen=True)
class MessageType:
    key: str
    category: str
    channels: tuple[Channel, ...] = ALL_CHANNELS
    # Mandatory: with no subscribed recipient it falls back to the bound email and phone. Optional: with no
    # subscribed recipient it goes to the inbox only (the account opted out of e-mail/SMS by subscribing
    # none).
    mandatory: bool = True


@dataclass(frozen=True)
class Rule:
    """For one event type: which party (by role) gets which message type, when `when` holds."""

    role: AccountRole
    message: MessageType
    when: Callable[[Event], bool] | None = None

    def applies(self, event: Event) -> bool:
        return self.when is None or self.when(event)


ORDER_PAID_BUYER = MessageType("order_paid", "creation_activation")
ORDER_NEW_MERCHANT = MessageType("order_received", "creation_activation")
ORDER_PROVIDER = MessageType("order_provider", "billing", (Channel.IN_SITE, Channel.EMAIL), mandatory=False)
MILESTONE = MessageType("milestone_confirmed", "supervision")
APPEAL_RAISED = MessageType("appeal_raised", "appeal")
APPEAL_TO_REVIEW = MessageType("appeal_to_review", "appeal", (Channel.IN_SITE, Channel.EMAIL))
APPEAL_RESOLVED = MessageType("appeal_resolved", "appeal")
ACCEPTED_MERCHANT = MessageType("acceptance_done", "supervision")
COMPLETED_BUYER = MessageType("order_completed", "supervision")
CANCELLED = MessageType("order_cancelled", "creation_activation", mandatory=False)
REFUND_REQUESTED = MessageType("refund_requested", "billing")
REFUND_DECIDED = MessageType("refund_decided", "billing")
MERCHANT_CALL_FAILED = MessageType("merchant_call_failed", "om_reminder")
DEADLINE_REMINDER = MessageType("deadline_reminder", "supervision")
VERIFY_EMAIL = MessageType("verify_email", "account", (Channel.EMAIL,))
VERIFY_PHONE = MessageType("verify_phone", "account", (Channel.SMS,))


def _cancelled(e: Event) -> bool:
    """A purchase that was cancelled. An unsubscribe order that ends cancelled is a rejected refund, which
    refund.decided already tells; saying "order cancelled" about it would only confuse the buyer."""
    return bool(e.payload.to_status == OrderStatus.CANCELLED and e.payload.order_type != "unsubscribe")


def _cancelled_after_payment(e: Event) -> bool:
    """The merchant hears of a cancellation only if it had a paid order to deliver [I]."""
    return _cancelled(e) and e.payload.from_status not in (None, OrderStatus.PENDING_PAYMENT)


def _not_by_merchant(e: Event) -> bool:
    return str(e.payload.decided_by_role) != "merchant"


B, M, P, OP = AccountRole.BUYER, AccountRole.MERCHANT, AccountRole.PROVIDER, AccountRole.OPERATOR
CATALOGUE: dict[str, tuple[Rule, ...]] = {
    "order.paid": (Rule(B, ORDER_PAID_BUYER), Rule(M, ORDER_NEW_MERCHANT), Rule(P, ORDER_PROVIDER)),
    "milestone.confirmed": (Rule(B, MILESTONE),),
    "appeal.raised": (Rule(B, APPEAL_RAISED), Rule(M, APPEAL_RAISED), Rule(OP, APPEAL_TO_REVIEW)),
    "appeal.resolved": (Rule(B, APPEAL_RESOLVED), Rule(M, APPEAL_RESOLVED)),
    "acceptance.done": (Rule(M, ACCEPTED_MERCHANT), Rule(B, COMPLETED_BUYER)),
    "order.status_changed": (Rule(B, CANCELLED, _cancelled), Rule(M, CANCELLED, _cancelled_after_payment)),
    "refund.requested": (Rule(M, REFUND_REQUESTED),),
    "refund.decided": (Rule(B, REFUND_DECIDED), Rule(M, REFUND_DECIDED, _not_by_merchant)),
    "merchant_call.failed": (Rule(M, MERCHANT_CALL_FAILED),),
}


def rules_for(event: Event) -> list[Rule]:
    return [r for r in CATALOGUE.get(event.event_type, ()) if r.applies(event)]
