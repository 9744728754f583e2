"""What a message's template gets from the event that caused it, and who plays which role in it. Pure.

Both are chosen by the payload's type (`functools.singledispatch`): each event type says what it carries, and
a new event type without a registration gives its templates the defaults and its roles nobody.
"""

from __future__ import annotations

import functools
from typing import Any

from services.notification.texts import NOTICE_PARAMS
from shared.schemas import (
    AcceptanceDonePayload,
    AccountRole,
    AppealRaisedPayload,
    AppealResolvedPayload,
    Event,
    MerchantCallFailedPayload,
    MilestoneConfirmedPayload,
    NoticeRequestedPayload,
    OrderPaidPayload,
    OrderStatusChangedPayload,
    Parties,
    RefundDecidedPayload,
    RefundRequestedPayload,
)

# Every name a template may use, with the value it has when the event does not carry it.
DEFAULTS: dict[str, Any] = {
    "order_id": "",
    "amount": "",
    "currency": "CNY",
    "product": "",
    "node": "",
    "next_node": None,
    "raised_by": "",
    "reason": "",
    "outcome": "",
    "approved": False,
    "opinion": "",
    "endpoint": "",
    "attempt": 1,
    "final": False,
    "consequence": "",
    "error": "",
}


def context(event: Event) -> dict[str, Any]:
    """Everything a template may use; raw keys (roles, nodes) are translated by the locale's filters."""
    found = DEFAULTS | carried(event.payload)
    return found | {"order_id": event.order_id or found["order_id"] or ""}


@functools.singledispatch
def carried(payload: object) -> dict[str, Any]:
    """What the payload gives the templates (an event type nobody registered gives nothing)."""
    return {}


def fields(payload: object, *names: str) -> dict[str, Any]:
    """The payload's fields of these names, as they are (the templates' filters format them)."""
    return {name: getattr(payload, name) for name in names}


@carried.register
def _(p: OrderPaidPayload) -> dict[str, Any]:
    return {"order_id": p.order_id, "amount": p.amount, "currency": p.currency, "product": p.product.name}


@carried.register
def _(p: MilestoneConfirmedPayload) -> dict[str, Any]:
    return fields(p, "order_id", "node", "next_node")


@carried.register
def _(p: AppealRaisedPayload) -> dict[str, Any]:
    return {"order_id": p.order_id, "node": p.node, "raised_by": p.raised_by_role.value, "reason": p.reason}


@carried.register
def _(p: AppealResolvedPayload) -> dict[str, Any]:
    return {"order_id": p.order_id, "outcome": p.outcome.value}


@carried.register
def _(p: AcceptanceDonePayload) -> dict[str, Any]:
    return fields(p, "order_id")


@carried.register
def _(p: OrderStatusChangedPayload) -> dict[str, Any]:
    return fields(p, "order_id", "amount", "currency", "reason")


@carried.register
def _(p: RefundRequestedPayload) -> dict[str, Any]:
    return fields(p, "order_id", "amount", "reason")


@carried.register
def _(p: RefundDecidedPayload) -> dict[str, Any]:
    return fields(p, "order_id", "amount", "currency", "reason", "approved", "opinion")


@carried.register
def _(p: MerchantCallFailedPayload) -> dict[str, Any]:
    return fields(p, "order_id", "endpoint", "attempt", "final", "consequence", "error")


@carried.register
def _(p: NoticeRequestedPayload) -> dict[str, Any]:
    """The notice's params; one its kind's text uses but the producer did not send renders as empty (or as
    its default, `currency`), never an error."""
    blanks = {name: DEFAULTS.get(name, "") for name in NOTICE_PARAMS.get(p.kind.value, ())}
    return blanks | p.params


# --- who plays which role -----------------------------------------------------------------------------
WithParties = (
    OrderPaidPayload
    | MilestoneConfirmedPayload
    | AppealRaisedPayload
    | AppealResolvedPayload
    | AcceptanceDonePayload
    | OrderStatusChangedPayload
    | RefundRequestedPayload
    | RefundDecidedPayload
)


def accounts_in_role(event: Event, role: AccountRole) -> list[str]:
    """The accounts that play `role` in this event, if it names them (operators: see `every_operator`)."""
    found = roles(event.payload).get(role)
    if isinstance(found, list):  # a notice may name several accounts in a role
        return list(dict.fromkeys(found))
    return [found] if found else []


def every_operator(event: Event) -> bool:
    """Whether an operator message of this event goes to every operator: always for the catalogue's events
    (appeals: every operator reviews), and for a notice naming an operator recipient without an account."""
    if isinstance(event.payload, NoticeRequestedPayload):
        return any(r.role == AccountRole.OPERATOR and r.account_id is None for r in event.payload.recipients)
    return True


@functools.singledispatch
def roles(payload: object) -> dict[AccountRole, str | None] | dict[AccountRole, list[str]]:
    """The account (or, for a notice, the accounts) a payload names, by role."""
    return {}


@roles.register
def _(p: NoticeRequestedPayload) -> dict[AccountRole, list[str]]:
    """A notice names its recipients itself; an operator recipient without an account is every operator
    (`every_operator`), not an account named here."""
    named: dict[AccountRole, list[str]] = {}
    for r in p.recipients:
        if r.account_id:
            named.setdefault(r.role, []).append(r.account_id)
    return named


@roles.register
def _(p: WithParties) -> dict[AccountRole, str | None]:
    return by_role(p.parties)


@roles.register
def _(p: MerchantCallFailedPayload) -> dict[AccountRole, str | None]:
    """It names the merchant directly; its parties may be absent (a call outside any order)."""
    named = by_role(p.parties) if p.parties is not None else {}
    return named | {AccountRole.MERCHANT: p.merchant_account_id or named.get(AccountRole.MERCHANT)}


def by_role(parties: Parties) -> dict[AccountRole, str | None]:
    return {
        AccountRole.BUYER: parties.buyer_account_id,
        AccountRole.MERCHANT: parties.merchant_account_id,
        AccountRole.PROVIDER: parties.provider_id,
    }
