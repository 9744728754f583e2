"""What a message's template gets from the event that caused it, and who plays which role in it. Pure.

Both are chosen by the payload's type (`functools.singledispatch`): each event type says what it carries, and
a new event type without a registration gives its templates the defaults and its roles nobody.
"""

from __future__ import annotations

import functools
from typing import Any

from shared.schemas import (
    AcceptanceDonePayload,
    AccountRole,
    AppealRaisedPayload,
    AppealResolvedPayload,
    Event,
    MerchantCallFailedPayload,
    MilestoneConfirmedPayload,
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
    """The account that plays `role` in this event, if it names one (operators: the store knows them)."""
    found = roles(event.payload).get(role)
    return [found] if found else []


@functools.singledispatch
def roles(payload: object) -> dict[AccountRole, str | None]:
    """The accounts a payload names, by role."""
    return {}


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
