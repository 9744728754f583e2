"""Who receives a message, on which channel, and why: pure rules plus the delivery's retry state machine.

Recipient resolution follows the marketplace's message centre (dossier §6.1, §6.2): the account's verified
recipients subscribed to the message's category; with none, the phone and email bound to the account.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, Field

from services.notification.catalogue import Channel, MessageType, Rendered
from services.notification.centre import Recipient
from shared.platform.logs import mask
from shared.schemas import AccountRegisteredPayload

ERASED_NAME = "(erased)"


class Contact(AccountRegisteredPayload):
    """The account's bound contact data, built from account.registered events."""

    erased_at: AwareDatetime | None = None  # its owner had its contact data erased (account.erased)

    def erased(self, at: datetime) -> Contact:
        """Masked (`a***@example.com`, `***34`), not deleted: later events still find the account's role and
        locale for its in-site inbox, and nothing is parked for it forever; an address is never used again."""
        if self.erased_at is not None:
            return self
        return self.model_copy(
            update={
                "display_name": ERASED_NAME,
                "bound_email": mask(self.bound_email),
                "bound_phone": mask(self.bound_phone),
                "erased_at": at,
            }
        )


class Target(BaseModel):
    channel: Channel
    address: str
    why: str


@dataclass(frozen=True)
class Cause:
    """What a message is about: an event, a reminder step or a verification (its id keys the deliveries)."""

    event_id: str
    event_type: str
    order_id: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """One message for one account, its targets resolved and its text rendered: what the delivery to each
    target is planned from."""

    cause: Cause
    account_id: str
    message: MessageType
    text: Rendered
    trace: list[str]  # how the targets were chosen

    def about(self) -> dict[str, str | None]:
        """What each of its deliveries records of it: the cause's ids, the account, the message's type and
        category."""
        message = {
            "account_id": self.account_id,
            "message_type": self.message.key,
            "category": self.message.category,
        }
        return asdict(self.cause) | message


def resolve(
    contact: Contact, recipients: list[Recipient], message: MessageType
) -> tuple[list[Target], list[str]]:
    """The targets of one message for one account, and the trace of how they were chosen."""
    trace: list[str] = []
    chosen: list[Recipient] = []
    for r in recipients:
        if not r.active:
            trace.append(f"recipient {r.name} skipped: not verified yet")
        elif message.category not in r.categories and message.key not in r.categories:
            trace.append(
                f"recipient {r.name} skipped: subscribed to neither {message.category} nor {message.key}"
            )
        else:
            chosen.append(r)
    targets: list[Target] = []
    if Channel.IN_SITE in message.channels:
        targets.append(
            Target(
                channel=Channel.IN_SITE,
                address=contact.account_id,
                why="in-site messages go to the account's inbox",
            )
        )
    if chosen:
        trace.append(
            f"{len(chosen)} active recipient(s) subscribed to {message.category}: "
            "the bound contact is not used"
        )
        for r in chosen:
            why = f"recipient {r.name} is verified and subscribed to {message.category}"
            targets += _contact_targets(message, r.email, r.phone, why)
    elif not message.mandatory:
        trace.append(
            f"no active recipient subscribed to {message.category}, and {message.key} is optional: "
            "in-site message only"
        )
    elif contact.erased_at is not None:
        trace.append(
            f"no active recipient subscribed to {message.category}, and the account's bound contact "
            "was erased at its owner's request: in-site message only"
        )
    else:
        trace.append(
            f"no active recipient subscribed to {message.category}: "
            "fell back to the account's bound email and phone"
        )
        targets += _contact_targets(
            message,
            contact.bound_email,
            contact.bound_phone,
            "bound contact of the account (no recipient configured)",
        )
    return _dedupe(targets), trace


def _contact_targets(message: MessageType, email: str, phone: str, why: str) -> list[Target]:
    out = []
    if Channel.EMAIL in message.channels:
        out.append(Target(channel=Channel.EMAIL, address=email, why=why))
    if Channel.SMS in message.channels:
        out.append(Target(channel=Channel.SMS, address=phone, why=why))
    return out


def _dedupe(targets: list[Target]) -> list[Target]:
    seen: set[tuple[Channel, str]] = set()
    out = []
    for t in targets:
        if (t.channel, t.address.lower()) not in seen:
            seen.add((t.channel, t.address.lower()))
            out.append(t)
    return out


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # permanent refusal (bad address): not retried
    DEAD = "dead"  # attempts exhausted: visible, replayable by an operator
    # its account's contact data was erased before it went out: never sent, not replayable
    CANCELLED = "cancelled"


class Delivery(BaseModel):
    delivery_id: str
    event_id: str
    event_type: str
    order_id: str | None
    account_id: str
    message_type: str
    category: str
    channel: Channel
    address: str
    title: str
    body: str
    html: str | None = None
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    next_attempt_at: AwareDatetime
    last_error: str | None = None
    provider_ref: str | None = None
    provider: str | None = None  # which provider took it: primary / secondary (failover)
    provider_status: str | None = None  # the SMS provider's status callbacks: sent, delivered, failed ...
    replays: int = 0  # how often an operator replayed it after it died
    trace: list[str] = Field(default_factory=list)
    created_at: AwareDatetime
    sent_at: AwareDatetime | None = None
    version: int = 0

    @staticmethod
    def key(event_id: str, account_id: str, message_type: str, channel: Channel, address: str) -> str:
        """Idempotency key: (event, recipient, channel), where the recipient is the address of one account's
        message. A redelivered event maps to the same rows; two accounts sharing a phone still get theirs."""
        raw = f"{event_id}|{account_id}|{message_type}|{channel.value}|{address.lower()}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    @classmethod
    def plan(cls, outgoing: Outgoing, target: Target, now: datetime) -> Delivery:
        """The delivery of `outgoing` to one of its targets: an in-site one is done (its inbox row is written
        in the same transaction), an e-mail or SMS one queued for the dispatcher."""
        cause, message, text = outgoing.cause, outgoing.message, outgoing.text
        body = text.sms if target.channel is Channel.SMS else text.body
        done = target.channel is Channel.IN_SITE  # written to the inbox in the same transaction
        key = cls.key(cause.event_id, outgoing.account_id, message.key, target.channel, target.address)
        return cls(
            delivery_id=key,
            **outgoing.about(),
            **target.model_dump(include={"channel", "address"}),
            title=text.title,
            body=body,
            html=text.html if target.channel is Channel.EMAIL else None,
            status=DeliveryStatus.SENT if done else DeliveryStatus.PENDING,
            next_attempt_at=now,
            trace=[
                *outgoing.trace,
                f"channel {target.channel.value}: a default channel of {message.key}",
                target.why,
            ],
            created_at=now,
            sent_at=now if done else None,
        )


UNSENT = frozenset(
    {DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.DEAD, DeliveryStatus.FAILED}
)


def erased(d: Delivery, at: datetime) -> Delivery:
    """An e-mail / SMS delivery once its account's contact data is erased: the address, and any trace line or
    provider error quoting it, masked (the log still shows that a message went out, not where); a verification
    message's text dropped (it names the recipient); and anything not sent yet cancelled, so neither the
    dispatcher nor an operator's replay ever sends it. A message a dispatcher is handing to a provider at this
    very moment still goes out: that send was decided before the erasure."""
    trace = [mask(line) for line in d.trace]
    update: dict[str, object] = {
        "address": mask(d.address),
        "trace": trace,
        "last_error": mask(d.last_error) if d.last_error else d.last_error,
    }
    if d.event_type == "recipient.verification":
        update |= {"body": "(erased)", "html": None}
    if d.status in UNSENT:
        update["status"] = DeliveryStatus.CANCELLED
        trace.append(f"cancelled at {at.isoformat()}: contact data erased")
    return d.model_copy(update=update)


def next_attempt(attempts: int, now: datetime, base: float, cap: float) -> datetime:
    """Exponential backoff with full jitter in [delay/2, delay]."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return now + timedelta(seconds=delay * random.uniform(0.5, 1.0))


# Twilio's message statuses in the order they happen; a late callback never moves a status backwards.
SMS_PROGRESS = {
    "accepted": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "read": 5,
}


def replaced_by(provider_status: str) -> list[str]:
    """The SMS provider statuses a callback saying `provider_status` may replace (the earlier ones)."""
    rank = SMS_PROGRESS.get(provider_status, -1)
    return [s for s, r in SMS_PROGRESS.items() if r < rank]
