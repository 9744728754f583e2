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
- `notice.requested`: another service asks us to tell people what its own flow decided. Its `kind` is one
  message type (`NOTICES`), its recipients are named in the payload (see `NOTICES` for each kind's category
  and channels, and where the dossier is silent what was chosen).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from services.notification.templates import _TEXTS, Rendered, render
from shared.schemas import AccountRole, Event, NoticeRequestedPayload, OrderStatus
from shared.schemas.enums import NoticeKind

__all__ = [
    "CATALOGUE",
    "CATEGORIES",
    "MESSAGE_TYPES",
    "NOTICES",
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
    # 产品续费通知 (dossier §6.3 names the category, not its code) [I]: renewals, expiry and trial reminders.
    "renewal": "renewal",
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
# §6.3 "user submitted an unsubscribe request": 产品创建开通通知 (101). A refund request is the buyer's
# unsubscribe request (POST /purchased-services/{id}/unsubscribe); orders sends no notice of its own for it.
REFUND_REQUESTED = MessageType("refund_requested", "creation_activation")
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


# --- notice.requested: one message type per NoticeKind ----------------------------------------------------
# The channels follow dossier §6.3 "other notification facts" where it names them; `[I]` marks a kind where
# the dossier is silent, with the choice made: a notice that stops trading, loses a buyer's resource or asks
# someone to act by a date goes by in-site, e-mail and SMS (as §6.3 does for interface failures and trial
# reminders); one that only reports goes in-site and by e-mail (as §6.3 does for statements). All are
# mandatory: with no subscribed recipient they fall back to the bound e-mail and phone (§6.1: "if the merchant
# has not set recipients, system messages go to the phone number and email bound to the account").
IN_SITE_EMAIL = (Channel.IN_SITE, Channel.EMAIL)
IN_SITE_SMS = (Channel.IN_SITE, Channel.SMS)
NOTICES: dict[NoticeKind, MessageType] = {
    # §5.3 / issue: the escalation notifies operators "in-site and e-mail" and both parties; the parties get
    # the same channels [I].
    NoticeKind.APPEAL_ESCALATED: MessageType("appeal_escalated", "appeal", IN_SITE_EMAIL),
    # §6.3 "SaaS interface exception": O&M reminder (501); §8.2.2: interface failures by e-mail, SMS, in-site.
    NoticeKind.PRODUCT_FROZEN: MessageType("product_frozen", "om_reminder"),
    NoticeKind.PRODUCT_DELISTED: MessageType("product_delisted", "om_reminder"),
    # §8.2.8 dial tests: a failing test is an interface exception, O&M reminder (501), all channels.
    NoticeKind.DIAL_TEST_FAILED: MessageType("dial_test_failed", "om_reminder"),
    # §8.2.5: the dossier names no category for a release; 101 (the instance's lifecycle), all channels (the
    # buyer loses the resource) [I].
    NoticeKind.INSTANCE_RELEASED: MessageType("instance_released", "creation_activation"),
    # §6.3 "SaaS / API resource activation failed": 101; channels not named, all three (a paid resource that
    # did not open) [I].
    NoticeKind.ACTIVATION_FAILED: MessageType("activation_failed", "creation_activation"),
    # §6.3 "user renewed a periodic product": 产品续费通知; channels not named: reports only [I].
    NoticeKind.RENEWAL: MessageType("renewal", "renewal", IN_SITE_EMAIL),
    # §6.3: expiry and trial → commercial reminders at 15, 7, 3, 1 days, 10:00, by in-site, e-mail and SMS.
    # The category is not named: 产品续费通知, what they ask for [I].
    NoticeKind.EXPIRY_REMINDER: MessageType("expiry_reminder", "renewal"),
    NoticeKind.TRIAL_CONVERSION_REMINDER: MessageType("trial_conversion_reminder", "renewal"),
    # §6.3: listing review results by in-site message and SMS. No category named: other (901) [I].
    NoticeKind.LISTING_REVIEW_RESULT: MessageType("listing_review_result", "other", IN_SITE_SMS),
    # §1.5: the 180-day reminder to the merchant and the buyer's account manager; supervision, reports only
    # [I].
    NoticeKind.LONG_RUNNING_REMINDER: MessageType("long_running_reminder", "supervision", IN_SITE_EMAIL),
    # §6.3 "supervision overdue – system executed unsubscribe – notify merchant": 产品创建开通通知 (101); the
    # merchant loses the order, all channels [I].
    NoticeKind.SUPERVISION_AUTO_UNSUBSCRIBED: MessageType(
        "supervision_auto_unsubscribed", "creation_activation"
    ),
    # §1.4: a return not reviewed in time (the buyer may contact the merchant); 101, all channels [I].
    NoticeKind.RETURN_REVIEW_OVERDUE: MessageType("return_review_overdue", "creation_activation"),
    # §6.3 "general-product invoice request": other (901); invoice reminders by e-mail and in-site.
    NoticeKind.INVOICE_REQUESTED: MessageType("invoice_requested", "other", IN_SITE_EMAIL),
    # §6.3: statements by e-mail and in-site (§4.3, §7.6 settlement); category billing [I].
    NoticeKind.STATEMENT_STATUS: MessageType("statement_status", "billing", IN_SITE_EMAIL),
    NoticeKind.BILL_STATUS: MessageType("bill_status", "billing", IN_SITE_EMAIL),
    # §9.2: the buyer reminds the seller (催促); about a supervised order, in-site and e-mail (rate-limited by
    # orders, not worth an SMS) [I].
    NoticeKind.ORDER_REMINDER: MessageType("order_reminder", "supervision", IN_SITE_EMAIL),
}
# Every notice is in the inbox: its in-site delivery is the mark that the notice was told to an account, so
# the same fact told twice (another event id, same notice id) is one notice (services.py; a unit test keeps
# every notice type in-site).


def _notice_to(kind: NoticeKind, role: AccountRole) -> Callable[[Event], bool]:
    """A notice of `kind` that names a recipient in `role`."""

    def when(e: Event) -> bool:
        p = e.payload
        if not isinstance(p, NoticeRequestedPayload) or p.kind != kind:
            return False
        return any(r.role == role for r in p.recipients)

    return when


CATALOGUE["notice.requested"] = tuple(
    Rule(role, message, _notice_to(kind, role)) for kind, message in NOTICES.items() for role in AccountRole
)

# Every message type, by key: what a recipient may subscribe to, and what GET /message-types lists.
MESSAGE_TYPES: dict[str, MessageType] = {
    m.key: m
    for m in (
        *(rule.message for rules in CATALOGUE.values() for rule in rules),
        DEADLINE_REMINDER,
        VERIFY_EMAIL,
        VERIFY_PHONE,
    )
}


def rules_for(event: Event) -> list[Rule]:
    return [r for r in CATALOGUE.get(event.event_type, ()) if r.applies(event)]
